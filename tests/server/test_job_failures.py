"""What goes wrong around a job costs that job at most, never the job runner: a database locked
past its timeout while a job runs, and an analysis that runs too long or stops reporting."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from server.app import create_app
from tests.server.conftest import sign_up, wait_for_job
from tests.server.test_uploads import upload_single

# The server waits up to 10 s for a database lock (SQLite's busy timeout); held this long, both
# a write of the job and the write of its error after it run out of time.
LOCK_HELD_S = 25.0


@contextlib.contextmanager
def write_lock(database: Path) -> Iterator[None]:
    """Another connection holding SQLite's write lock (an open write transaction)."""
    connection = sqlite3.connect(database, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        yield
        connection.execute("ROLLBACK")
    finally:
        connection.close()


async def confirm(user, job_id: str) -> None:
    response = await user.call("POST", f"/api/v1/upload/confirm/{job_id}")
    assert response.status == 202, await response.text()


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain `text`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if text in line:
                found.append(line)
    return found


async def test_jobs_go_on_after_the_database_was_locked(aiohttp_client, settings, clip, caplog):
    caplog.set_level(logging.WARNING, logger="server.jobs")
    client = await aiohttp_client(create_app(settings))
    alice = await sign_up(client, "alice@example.com")
    video = clip.video.read_bytes()
    first = await upload_single(alice, video, court=clip.corners)
    await confirm(alice, first["job_id"])

    with write_lock(settings.data_dir / "badminton.db"):
        await asyncio.sleep(LOCK_HELD_S)
    assert "database is locked" in caplog.text  # the runner did run into the lock

    job = await wait_for_job(alice, first["job_id"], timeout=180)
    assert job["status"] == "done", job
    assert job["error"] is None
    # The worker is still there for the next job.
    second = await upload_single(alice, video, court=clip.corners)
    await confirm(alice, second["job_id"])
    job = await wait_for_job(alice, second["job_id"], timeout=180)
    assert job["status"] == "done", job


@pytest.mark.parametrize(
    "limit, message",
    [
        # Both far shorter than the analysis process needs to load its models.
        ({"job_timeout_s": 0.5}, "the analysis ran past its time limit of 0.5 s"),
        ({"job_stall_timeout_s": 0.5}, "the analysis made no progress for 0.5 s"),
    ],
)
async def test_analysis_past_its_limit_is_killed(aiohttp_client, settings, clip, limit, message):
    client = await aiohttp_client(create_app(replace(settings, **limit)))
    alice = await sign_up(client, "alice@example.com")
    ticket = await upload_single(alice, clip.video.read_bytes(), court=clip.corners)
    await confirm(alice, ticket["job_id"])

    job = await wait_for_job(alice, ticket["job_id"], timeout=120)
    assert job["status"] == "failed"
    assert job["error"] == message
    # Its analysis process is gone (it runs on the video in the job's work folder).
    assert processes_mentioning(f"job-{ticket['job_id']}-") == []
