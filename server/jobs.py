"""Analysis jobs: a queue kept in the database, worked off by analysis processes.

A job's video is fetched from storage into a temporary folder, analysed by
`server.job_worker` in a child process (off the event loop, one process per job), and its
report and heatmaps are written back under the job's output prefix. Jobs that were queued or
running when the server stopped are queued again when it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlmodel import col, select

from server.db import Database
from server.models import Job, JobStatus, utcnow
from storage import Storage, StorageError, StorageUnavailable

log = logging.getLogger(__name__)

OUTPUTS = {
    "report": ("report.json", "application/json"),
    "heatmap_near": ("heatmap_near.png", "image/png"),
    "heatmap_far": ("heatmap_far.png", "image/png"),
}
PROGRESS_WRITE_S = 1.0  # at most one progress write to the database per second and job
WORK_PREFIX = "job-"  # a job's folder in the work dir, while it runs
# Below this much progress the analysis has not run long enough to tell how long it takes.
ESTIMATE_AFTER_PROGRESS = 0.02
T = TypeVar("T")


class JobFailed(Exception):
    """The job cannot succeed as it is (bad video, bad court): no retry."""


def remaining_seconds(job: Job, now: datetime | None = None) -> float | None:
    """About how long a running job still needs, from its progress so far (analysis runs
    at a steady pace through a video); None when not running or too early to tell."""
    progress = job.progress
    if job.status != JobStatus.RUNNING or job.started_at is None:
        return None
    if not ESTIMATE_AFTER_PROGRESS <= progress < 1.0:
        return None
    started = job.started_at
    if started.tzinfo is None:  # SQLite gives back naive UTC
        started = started.replace(tzinfo=UTC)
    elapsed = max(0.0, ((now or utcnow()) - started).total_seconds())
    return elapsed * (1.0 - progress) / progress


def _make_work_folder(work_dir: Path | None, job_id: str) -> str:
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
    return tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{job_id}-", dir=work_dir)


def _remove_leftovers(work_dir: Path) -> None:
    """Job folders a crashed run left behind (their jobs run again from the start)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    for folder in work_dir.glob(f"{WORK_PREFIX}*"):
        log.info("removing %s, left behind by an interrupted job", folder)
        shutil.rmtree(folder, ignore_errors=True)


class JobRunner:
    def __init__(
        self,
        db: Database,
        storage: Storage,
        *,
        workers: int = 1,
        analysis_fps: float = 15.0,
        retries: int = 3,
        retry_base_s: float = 2.0,
        work_dir: Path | None = None,
    ) -> None:
        self.db = db
        self.storage = storage
        self.workers = workers
        self.analysis_fps = analysis_fps
        self.retries = retries
        self.retry_base_s = retry_base_s
        self.work_dir = work_dir
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._processes: dict[str, asyncio.subprocess.Process] = {}

    async def start(self) -> None:
        """Starts the workers and queues again every job a previous run left unfinished."""
        if self.work_dir is not None:
            await asyncio.to_thread(_remove_leftovers, self.work_dir)
        async with self.db.session() as session:
            jobs = (
                await session.exec(
                    select(Job)
                    .where(col(Job.status).in_(JobStatus.UNFINISHED))
                    .order_by(col(Job.created_at))
                )
            ).all()
            for job in jobs:
                if job.status == JobStatus.RUNNING:
                    log.info("job %s: interrupted by a restart, queued again", job.id)
                    job.status, job.progress = JobStatus.QUEUED, 0.0
                    session.add(job)
            await session.commit()
        for job in jobs:
            self._queue.put_nowait(job.id)
        self._tasks = [
            asyncio.create_task(self._work(), name=f"jobs-{i}") for i in range(self.workers)
        ]

    async def close(self) -> None:
        """Stops the workers; a job cut short stays `running` and resumes at the next start."""
        for process in list(self._processes.values()):
            _terminate(process)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def enqueue(self, job_id: str) -> None:
        self._queue.put_nowait(job_id)

    def cancel(self, job_id: str) -> None:
        """Stops a running job's analysis (the job is being deleted)."""
        process = self._processes.get(job_id)
        if process is not None:
            _terminate(process)

    async def wait_idle(self) -> None:
        """Until every queued job has been worked off (tests)."""
        await self._queue.join()

    # -- one job ---------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            job_id = await self._queue.get()
            try:
                await self._run(job_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("job %s: unexpected error", job_id)
                await self._update(job_id, status=JobStatus.FAILED, error="internal error")
            finally:
                self._queue.task_done()

    async def _run(self, job_id: str) -> None:
        job = await self._load(job_id)
        if job is None or job.status not in JobStatus.UNFINISHED:
            return  # deleted, or already finished
        await self._update(
            job_id, status=JobStatus.RUNNING, started_at=utcnow(), attempts=job.attempts + 1
        )
        log.info("job %s: analysing %s (%d bytes)", job_id, job.s3_video_key, job.size)
        started = time.monotonic()
        try:
            summary = await self._analyse(job)
        except JobFailed as exc:
            log.info("job %s: failed: %s", job_id, exc)
            await self._update(
                job_id, status=JobStatus.FAILED, error=str(exc), finished_at=utcnow()
            )
            return
        except StorageError as exc:
            log.warning("job %s: storage error, giving up: %s", job_id, exc)
            await self._update(
                job_id,
                status=JobStatus.FAILED,
                error=f"storage error: {exc}",
                finished_at=utcnow(),
            )
            return
        if await self._load(job_id) is None:
            return  # deleted while it ran
        await self._update(
            job_id,
            status=JobStatus.DONE,
            progress=1.0,
            summary=summary,
            error=None,
            finished_at=utcnow(),
        )
        log.info("job %s: done in %.1f s", job_id, time.monotonic() - started)

    async def _analyse(self, job: Job) -> dict[str, Any]:
        # The folder is made and removed in a thread: deleting a downloaded hour of video
        # takes long enough to stall the event loop, and live streams share it.
        tmp = Path(await asyncio.to_thread(_make_work_folder, self.work_dir, job.id))
        try:
            video = tmp / safe_filename(job.filename)
            out = tmp / "out"
            await self._retrying(
                job.id, "download", lambda: self.storage.download_to(job.s3_video_key, video)
            )
            summary = await self._analyse_file(job, video, out)
            for name, content_type in OUTPUTS.values():
                key = f"{job.s3_output_prefix}/{name}"
                path = out / name
                await self._retrying(
                    job.id,
                    f"upload {name}",
                    lambda key=key, path=path, ct=content_type: self.storage.put_file(
                        key, path, ct
                    ),
                )
            return summary
        finally:
            await asyncio.shield(asyncio.to_thread(shutil.rmtree, tmp, ignore_errors=True))

    async def _analyse_file(self, job: Job, video: Path, out: Path) -> dict[str, Any]:
        if job.court is None:
            raise JobFailed("no court corners were given for this video")
        # The worker's stderr goes to a file: a pipe nobody reads while the job runs would
        # fill up and stall a long analysis that logs a lot.
        stderr_path = out.parent / "worker.log"
        with stderr_path.open("wb") as stderr_file:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "server.job_worker",
                str(video),
                json.dumps(job.court),
                str(out),
                str(self.analysis_fps),
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr_file,
            )
        self._processes[job.id] = process
        try:
            result = await self._follow(job.id, process)
            code = await process.wait()
        finally:
            self._processes.pop(job.id, None)
            if process.returncode is None:
                _terminate(process)
                await process.wait()
        if "error" in result:
            raise JobFailed(result["error"])
        if code != 0 or not result.get("done"):
            tail = stderr_path.read_text(errors="replace")[-2000:]
            log.error("job %s: analysis process exited with %s: %s", job.id, code, tail)
            raise JobFailed(f"the analysis stopped unexpectedly (exit code {code})")
        return result["summary"]

    async def _follow(self, job_id: str, process: asyncio.subprocess.Process) -> dict[str, Any]:
        """Relays the worker's progress into the job; returns its final message."""
        assert process.stdout is not None
        last_write = 0.0
        final: dict[str, Any] = {}
        async for line in process.stdout:
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "progress" in message:
                now = time.monotonic()
                if now - last_write >= PROGRESS_WRITE_S:
                    last_write = now
                    await self._update(job_id, progress=float(message["progress"]))
            else:
                final = message
        return final

    async def _retrying(self, job_id: str, what: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Storage calls are retried with exponential backoff when the failure is transient."""
        for n in range(self.retries + 1):
            try:
                return await attempt()
            except StorageUnavailable as exc:
                if n == self.retries:
                    raise
                delay = self.retry_base_s * 2**n
                log.warning("job %s: %s failed (%s); retry in %.0f s", job_id, what, exc, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _load(self, job_id: str) -> Job | None:
        async with self.db.session() as session:
            return await session.get(Job, job_id)

    async def _update(self, job_id: str, **fields: Any) -> None:
        async with self.db.session() as session:
            job = await session.get(Job, job_id)
            if job is None:
                return
            for name, value in fields.items():
                setattr(job, name, value)
            job.updated_at = utcnow()
            session.add(job)
            await session.commit()


def safe_filename(filename: str) -> str:
    """A file name safe as a key segment or a local path; keeps the extension."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", filename.replace("\\", "/").rsplit("/", 1)[-1])
    return (name.strip("._") or "video")[-100:]


def _terminate(process: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        process.kill()
