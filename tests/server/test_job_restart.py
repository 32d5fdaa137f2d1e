"""A job cut short by a server stop runs again, to the end, when the server starts again.

On the way: the running job reads the upload through a hard link (no copy of the video), and
the folder a crashed run leaves behind is removed at the next start."""

from __future__ import annotations

import asyncio

from server.app import create_app
from server.context import DB, STORAGE
from server.models import Job
from tests.server.conftest import sign_up, wait_for_job
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
