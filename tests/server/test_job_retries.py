"""Storage failures during a job: transient ones are retried with backoff, lasting ones end
the job as failed with the reason."""

from __future__ import annotations

import asyncio

from server.db import Database
from server.jobs import JobRunner
from server.models import Job, JobStatus, User
from storage import LocalStorage, StorageUnavailable


class Flaky:
    """A real LocalStorage whose downloads fail `failures` times first (an S3 hiccup)."""

    def __init__(self, storage: LocalStorage, failures: int) -> None:
        self._storage = storage
        self.failures = failures
        self.calls = 0

    async def download_to(self, key, path):
        self.calls += 1
        if self.calls <= self.failures:
            raise StorageUnavailable("connection reset by peer")
        return await self._storage.download_to(key, path)

    def __getattr__(self, name):
        return getattr(self._storage, name)


async def run_one_job(tmp_path, clip, failures: int, retries: int) -> tuple[Job, Flaky]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}")
    await db.migrate()
    storage = Flaky(LocalStorage(tmp_path / "files", b"k" * 32), failures)
    key = "users/u1/uploads/j1/clip.mp4"
    await storage.put_file(key, clip.video, "video/mp4")
    async with db.session() as session:
        session.add(User(id="u1", email="u1@example.com", password_hash="x"))
        await session.flush()
        session.add(
            Job(
                id="j1",
                owner_id="u1",
                status=JobStatus.QUEUED,
                filename="clip.mp4",
                content_type="video/mp4",
                size=clip.video.stat().st_size,
                court=clip.corners,
                storage_type="local",
                s3_video_key=key,
                s3_output_prefix="users/u1/outputs/j1",
            )
        )
        await session.commit()
    runner = JobRunner(db, storage, retries=retries, retry_base_s=0.05)
    await runner.start()
    try:
        await asyncio.wait_for(runner.wait_idle(), 300)
    finally:
        await runner.close()
    async with db.session() as session:
        job = await session.get(Job, "j1")
    await db.close()
    return job, storage


async def test_transient_storage_errors_are_retried(tmp_path, clip):
    job, storage = await run_one_job(tmp_path, clip, failures=2, retries=3)
    assert storage.calls == 3
    assert job.status == JobStatus.DONE, job.error
    assert await storage.exists("users/u1/outputs/j1/report.json")


async def test_lasting_storage_errors_fail_the_job(tmp_path, clip):
    job, storage = await run_one_job(tmp_path, clip, failures=10, retries=2)
    assert storage.calls == 3
    assert job.status == JobStatus.FAILED
    assert job.error == "storage error: connection reset by peer"
