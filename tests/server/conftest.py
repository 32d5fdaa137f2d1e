"""Server fixtures: an app on the embedded default (SQLite + local storage) in a temp folder,
and signed-in users."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from server.app import create_app
from server.config import Settings
from tools.dataset import aicup_clips

CLIP = "00008"  # a 5 s rally with 9 labelled shots


@pytest.fixture(scope="session")
def clip(shared_data):
    return next(c for c in aicup_clips(shared_data) if c.name == CLIP)


@pytest.fixture(scope="session")
def cli_report(clip, tmp_path_factory):
    """What `badminton analyze` writes for the clip: the reference for the upload path."""
    out = tmp_path_factory.mktemp("cli")
    court = tmp_path_factory.mktemp("court") / "court.json"
    court.write_text(json.dumps(clip.corners))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "server.cli",
            "analyze",
            str(clip.video),
            "--court",
            str(court),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return json.loads((out / "report.json").read_text())


@pytest.fixture
def settings(tmp_path) -> Settings:
    # 5 MiB parts (the smallest S3 takes) so that multipart uploads in tests have several.
    return Settings(data_dir=tmp_path / "data", analysis_fps=15.0, upload_part_bytes=5 * 2**20)


@pytest.fixture
async def client(aiohttp_client, settings):
    return await aiohttp_client(create_app(settings))


class SignedIn:
    """A registered user and the headers that act as them."""

    def __init__(self, client, email: str, token: str, user_id: str) -> None:
        self.client, self.email, self.token, self.id = client, email, token, user_id
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, method: str, path: str, **kwargs):
        return await self.client.request(method, path, headers=self.headers, **kwargs)


async def sign_up(client, email: str, password: str = "correct horse battery") -> SignedIn:
    response = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": password}
    )
    assert response.status == 201, await response.text()
    body = await response.json()
    return SignedIn(client, email, body["token"], body["user"]["id"])


@pytest.fixture
async def alice(client) -> SignedIn:
    return await sign_up(client, "alice@example.com")


@pytest.fixture
async def bob(client) -> SignedIn:
    return await sign_up(client, "bob@example.com")


async def wait_for_job(user: SignedIn, job_id: str, timeout: float = 300.0) -> dict:
    """Polls the job until it is done or failed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        response = await user.call("GET", f"/api/v1/jobs/{job_id}")
        job = await response.json()
        if job["status"] in ("done", "failed"):
            return job
        await asyncio.sleep(0.5)
    raise AssertionError(f"job {job_id} did not finish within {timeout} s: {job}")
