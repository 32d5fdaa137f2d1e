"""Server fixtures: an app on the embedded default (SQLite + local storage) in a temp folder,
and signed-in users."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from dataclasses import replace

import pytest

from server.app import create_app
from server.config import Settings
from tests.conftest import require
from tests.server.test_pages import CHROMIUM, CHROMIUM_ARGS
from tools.dataset import aicup_clips

CLIP = "00008"  # a 5 s rally with 9 labelled shots


@pytest.fixture(scope="session")
def clip(shared_data):
    return next(c for c in aicup_clips(shared_data) if c.name == CLIP)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def corners_arg(corners: dict) -> str:
    """The court as the command line takes it: 8 numbers, far-left first."""
    order = ("far_left", "far_right", "near_right", "near_left")
    return ",".join(f"{v:g}" for name in order for v in corners[name])


@pytest.fixture(scope="session")
def analysed(clip, tmp_path_factory):
    """`badminton analyze` run once on the clip: its output folder and the process result."""
    out = tmp_path_factory.mktemp("cli")
    result = run_cli(
        "analyze", str(clip.video), "--court", corners_arg(clip.corners), "--out", str(out)
    )
    assert result.returncode == 0, result.stderr
    return out, result


@pytest.fixture(scope="session")
def cli_report(analysed):
    """What `badminton analyze` writes for the clip: the reference for the upload path."""
    return json.loads((analysed[0] / "report.json").read_text())


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


@pytest.fixture
async def browser():
    """Headless system Chromium for the page tests (never a downloaded browser)."""
    require(CHROMIUM.exists(), "the system chromium (Debian package chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
async def s3_client(aiohttp_client, settings, moto_endpoint, monkeypatch):
    """A server storing in a fresh bucket of the moto S3 server."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    s3_settings = replace(
        settings,
        s3_bucket=f"matches-{uuid.uuid4().hex[:12]}",
        s3_endpoint_url=moto_endpoint,
        aws_region="eu-west-1",
    )
    return await aiohttp_client(create_app(s3_settings))
