"""A job cut short by a server stop runs again, to the end, when the server starts again, but
not forever: a job whose every run ends with its server dying is given up.

On the way: the running job reads the upload through a hard link (no copy of the video), and
the folder a crashed run leaves behind is removed at the next start."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from server.app import create_app
from server.context import DB, STORAGE
from server.models import Job
from tests.server.conftest import SignedIn, sign_up, wait_for_job
from tests.server.test_uploads import upload_single
from tools.dataset import aicup_clips


async def test_restart_during_a_job_resumes_it(aiohttp_client, settings, shared_data):
    clip = next(c for c in aicup_clips(shared_data) if c.name == "00008")
    first = await aiohttp_client(create_app(settings))
    alice = await sign_up(first, "alice@example.com")
    ticket = await upload_single(alice, clip.video.read_bytes(), court=clip.corners)
    confirm = await alice.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
    assert confirm.status == 202

    for _ in range(600):  # until the analysis is under way
        job = await (await alice.call("GET", f"/api/v1/jobs/{ticket['job_id']}")).json()
        if job["status"] == "running" and job["progress"] > 0:
            break
        await asyncio.sleep(0.1)
    assert job["status"] == "running", job
    stored, _ = await first.app[STORAGE].open_for_read(ticket["file_key"])
    (working,) = settings.work_dir.glob(f"job-{ticket['job_id']}-*/*.mp4")
    assert working.stat().st_ino == stored.stat().st_ino
    await first.close()  # the server stops mid-job
    crashed = settings.work_dir / "job-left-by-a-crash"
    crashed.mkdir()
    (crashed / "match.mp4").write_bytes(b"partial")

    second = await aiohttp_client(create_app(settings))
    alice.client = second
    assert not crashed.exists()
    job = await wait_for_job(alice, ticket["job_id"])
    assert job["status"] == "done", job
    assert job["summary"]["total_shots"] > 0
    async with second.app[DB].session() as session:
        assert (await session.get(Job, ticket["job_id"])).attempts == 2


@contextlib.asynccontextmanager
async def server_process(data_dir: Path, **env: str) -> AsyncIterator[aiohttp.ClientSession]:
    """`badminton serve` in its own process; yields a client session for its address. The
    process is killed with SIGKILL at the end, as a crash or the OOM killer would."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
        env={**os.environ, "DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING", **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
            for _ in range(600):
                assert process.poll() is None, "the server did not start"
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    if (await http.get("/api/v1/health")).status == 200:
                        break
                await asyncio.sleep(0.1)
            yield http
    finally:
        process.kill()
        process.wait(timeout=30)


async def wait_until_analysing(user: SignedIn, job_id: str) -> dict:
    for _ in range(1200):
        job = await (await user.call("GET", f"/api/v1/jobs/{job_id}")).json()
        if job["status"] == "running" and job["progress"] > 0:
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} never got under way: {job}")


async def test_a_job_that_keeps_killing_its_server_ends_failed(tmp_path, shared_data):
    """Each time the job runs, its server is killed (kill -9); at the limit of attempts the
    job fails with the reason instead of running again at every start."""
    clip = next(c for c in aicup_clips(shared_data) if c.name == "00008")
    data_dir = tmp_path / "data"
    async with server_process(data_dir, JOB_MAX_ATTEMPTS="2") as http:
        alice = await sign_up(http, "alice@example.com")
        ticket = await upload_single(alice, clip.video.read_bytes(), court=clip.corners)
        confirm = await alice.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}")
        assert confirm.status == 202
        await wait_until_analysing(alice, ticket["job_id"])
    async with server_process(data_dir, JOB_MAX_ATTEMPTS="2") as http:
        alice.client = http
        await wait_until_analysing(alice, ticket["job_id"])  # the first crash is forgiven
    async with server_process(data_dir, JOB_MAX_ATTEMPTS="2") as http:
        alice.client = http
        job = await wait_for_job(alice, ticket["job_id"], timeout=60)
    assert job["status"] == "failed"
    assert job["error"] == "stopped after 2 attempts: the server stopped while the analysis ran"
