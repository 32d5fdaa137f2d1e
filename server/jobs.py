"""Analysis jobs: how one runs, and the in-process runner of a single server (its queue in
memory, rebuilt from the database at each start; `server.job_queue` has the Redis one).

A job's video is fetched from storage into a temporary folder, analysed by
`server.job_worker` in a child process (off the event loop, one process per job), and its
report and heatmaps are written back under the job's output prefix, with a copy of the video
that browsers play when they cannot play the original. Jobs that were queued or
running when the server stopped are queued again when it starts.

A worker outlives whatever goes wrong with one job: an unexpected error (the database locked
or gone, a full disk) is logged and the job is queued again after a pause, up to its allowed
number of attempts, after which it fails with the reason. Every start of a job counts as an
attempt, so a job that keeps taking its server down with it is not run forever. The analysis
process is killed when it runs past the time limit or stops reporting progress (a stuck
decoder).
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

from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from server.cleanup import StorageCleaner, schedule
from server.config import Settings
from server.db import Database
from server.metrics import JOB_DURATION
from server.models import Job, JobStatus, utcnow
from storage import Storage, StorageError, StorageUnavailable

log = logging.getLogger(__name__)

OUTPUTS = {
    "report": ("report.json", "application/json"),
    "heatmap_near": ("heatmap_near.png", "image/png"),
    "heatmap_far": ("heatmap_far.png", "image/png"),
}
# The browser-playable copy of a video browsers cannot play, made by the job's worker.
PLAYABLE_VIDEO = ("playable.mp4", "video/mp4")
PROGRESS_WRITE_S = 1.0  # at most one progress write to the database per second and job
WORK_PREFIX = "job-"  # a job's folder in the work dir, while it runs
# Below this much progress the analysis has not run long enough to tell how long it takes.
ESTIMATE_AFTER_PROGRESS = 0.02
RETRY_MAX_DELAY_S = 60.0  # longest pause before a job that hit an unexpected error runs again
INTERRUPTED = "the server stopped while the analysis ran"
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


def describe_error(exc: BaseException) -> str:
    """What a user may read of an unexpected error: its kind, never a query or a path."""
    if isinstance(exc, SQLAlchemyError):
        return "the database was unavailable"
    if isinstance(exc, OSError) and exc.strerror:
        return f"a file error ({exc.strerror})"
    return "internal error"


def _make_work_folder(work_dir: Path | None, job_id: str) -> str:
    if work_dir is not None:
        work_dir.mkdir(parents=True, exist_ok=True)
    return tempfile.mkdtemp(prefix=f"{WORK_PREFIX}{job_id}-", dir=work_dir)


def remove_leftovers(work_dir: Path) -> None:
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
        max_attempts: int = 3,
        timeout_s: float = 6 * 3600.0,
        stall_timeout_s: float = 300.0,
        cleaner: StorageCleaner | None = None,
    ) -> None:
        self.db = db
        self.storage = storage
        self.cleaner = cleaner
        self.workers = workers
        self.analysis_fps = analysis_fps
        self.retries = retries
        self.retry_base_s = retry_base_s
        self.work_dir = work_dir
        self.max_attempts = max_attempts
        self.timeout_s = timeout_s
        self.stall_timeout_s = stall_timeout_s
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._pauses: set[asyncio.Task[None]] = set()  # jobs waiting to be queued again
        self._errors: dict[str, int] = {}  # unexpected errors in a row, per job
        self._processes: dict[str, asyncio.subprocess.Process] = {}
        self._paused = False
        self._active: set[str] = set()  # jobs a worker has taken, from their load to their end

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        db: Database,
        storage: Storage,
        cleaner: StorageCleaner | None,
        workers: int | None = None,
    ) -> JobRunner:
        return cls(
            db,
            storage,
            workers=settings.job_workers if workers is None else workers,
            analysis_fps=settings.analysis_fps,
            retries=settings.job_retries,
            work_dir=settings.work_dir,
            max_attempts=settings.job_max_attempts,
            timeout_s=settings.job_timeout_s,
            stall_timeout_s=settings.job_stall_timeout_s,
            cleaner=cleaner,
        )

    async def start(self) -> None:
        """Starts the workers and queues again every job a previous run left unfinished."""
        if self.work_dir is not None:
            await asyncio.to_thread(remove_leftovers, self.work_dir)
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
                    job.status, job.progress, job.error = JobStatus.QUEUED, 0.0, INTERRUPTED
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
        tasks = [*self._tasks, *self._pauses]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks = []

    def pause(self) -> None:
        """Takes no new job (the server is stopping): those queued stay queued in the
        database, for another node or the next start; running ones go on."""
        self._paused = True

    @property
    def running(self) -> list[str]:
        """The jobs being worked on now (download, analysis or storing the outputs)."""
        return list(self._active)

    async def enqueue(self, job_id: str) -> None:
        self._queue.put_nowait(job_id)

    async def cancel(self, job_id: str) -> None:
        """Stops a running job's analysis (the job is being deleted)."""
        process = self._processes.get(job_id)
        if process is not None:
            _terminate(process)

    async def wait_idle(self) -> None:
        """Until every queued job has been worked off, retries included (tests)."""
        while True:
            await self._queue.join()
            if not self._pauses:
                return
            await asyncio.gather(*self._pauses, return_exceptions=True)

    # -- one job ---------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            job_id = await self._queue.get()
            try:
                if self._paused:
                    continue
                self._active.add(job_id)
                await self.run_once(job_id)
                self._errors.pop(job_id, None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("job %s: unexpected error", job_id)
                await self._after_error(job_id, exc)
            finally:
                self._active.discard(job_id)
                self._queue.task_done()

    async def _after_error(self, job_id: str, exc: Exception) -> None:
        """Queues the job again after a pause, or fails it once its attempts are used up."""
        if not await self.record_error(job_id, exc):
            return
        reason = describe_error(exc)
        errors = self._errors[job_id] = self._errors.get(job_id, 0) + 1
        delay = min(self.retry_base_s * 2 ** (errors - 1), RETRY_MAX_DELAY_S)
        log.warning("job %s: runs again in %.0f s (%s)", job_id, delay, reason)
        pause = asyncio.create_task(self._requeue_after(job_id, delay))
        self._pauses.add(pause)
        pause.add_done_callback(self._pauses.discard)

    async def record_error(self, job_id: str, exc: Exception) -> bool:
        """Marks the job queued again with the reason, or failed once its attempts are used
        up; True when it is to run again. When even that cannot be written (the database is
        still down), the job runs again all the same: it must not stay `running` with no
        worker on it."""
        reason = describe_error(exc)
        try:
            job = await self.load(job_id)
            if job is None or job.status not in JobStatus.UNFINISHED:
                return False
            if job.attempts >= self.max_attempts:
                await self._give_up(job_id, job.attempts, reason)
                return False
            await self._update(job_id, status=JobStatus.QUEUED, progress=0.0, error=reason)
        except Exception:
            log.exception("job %s: could not record the error; trying again later", job_id)
        return True

    async def _requeue_after(self, job_id: str, delay: float) -> None:
        await asyncio.sleep(delay)
        self._queue.put_nowait(job_id)

    async def _give_up(self, job_id: str, attempts: int, reason: str) -> None:
        log.warning("job %s: failed after %d attempts: %s", job_id, attempts, reason)
        await self._update(
            job_id,
            status=JobStatus.FAILED,
            error=f"stopped after {attempts} attempts: {reason}",
            finished_at=utcnow(),
        )

    async def run_once(self, job_id: str) -> None:
        """One attempt at the job: analyses it and stores its outputs under the job's own
        keys (so that a second run writes the same objects again, never more of them), or
        fails it for a reason that another attempt would not change."""
        job = await self.load(job_id)
        if job is None or job.status not in JobStatus.UNFINISHED:
            return  # deleted, or already finished
        if job.attempts >= self.max_attempts:
            await self._give_up(job_id, job.attempts, job.error or INTERRUPTED)
            return
        await self._update(
            job_id, status=JobStatus.RUNNING, started_at=utcnow(), attempts=job.attempts + 1
        )
        log.info("job %s: analysing %s (%d bytes)", job_id, job.s3_video_key, job.size)
        started = time.monotonic()
        try:
            summary, playable_key, court = await self._analyse(job)
        except JobFailed as exc:
            JOB_DURATION.labels("failed").observe(time.monotonic() - started)
            log.info("job %s: failed: %s", job_id, exc)
            await self._update(
                job_id, status=JobStatus.FAILED, error=str(exc), finished_at=utcnow()
            )
            return
        except StorageError as exc:
            JOB_DURATION.labels("failed").observe(time.monotonic() - started)
            log.warning("job %s: storage error, giving up: %s", job_id, exc)
            await self._update(
                job_id,
                status=JobStatus.FAILED,
                error=f"storage error: {exc}",
                finished_at=utcnow(),
            )
            return
        if await self.load(job_id) is None:
            await self._remove_outputs(job)
            return
        await self._update(
            job_id,
            status=JobStatus.DONE,
            progress=1.0,
            summary=summary,
            playable_video_key=playable_key,
            court=court,  # the corners found, when none were given: the page can adjust them
            error=None,
            finished_at=utcnow(),
        )
        JOB_DURATION.labels("done").observe(time.monotonic() - started)
        log.info("job %s: done in %.1f s", job_id, time.monotonic() - started)

    async def remove_outputs_if_deleted(self, job: Job) -> None:
        """After an attempt at `job` was cut short: were the job deleted meanwhile, what the
        attempt stored goes too."""
        if await self.load(job.id) is None:
            await self._remove_outputs(job)

    async def _remove_outputs(self, job: Job) -> None:
        """The job was deleted while its outputs were being stored, perhaps after its
        deletion removed them: what it stored goes now (or in the sweep, storage willing)."""
        async with self.db.session() as session:
            record = schedule(session, job.s3_output_prefix + "/")
            await session.commit()
        if self.cleaner is not None:
            await self.cleaner.run([record])

    async def _analyse(self, job: Job) -> tuple[dict[str, Any], str | None, dict[str, Any]]:
        """Runs the analysis and stores its outputs; returns the summary, the key of the
        video's playable copy (None when the video plays as it is) and the court used."""
        # The folder is made and removed in a thread: deleting a downloaded hour of video
        # takes long enough to stall the event loop, and live streams share it.
        tmp = Path(await asyncio.to_thread(_make_work_folder, self.work_dir, job.id))
        try:
            video = tmp / safe_filename(job.filename)
            out = tmp / "out"
            await self._retrying(
                job.id, "download", lambda: self.storage.download_to(job.s3_video_key, video)
            )
            result = await self._analyse_file(job, video, out)
            outputs = list(OUTPUTS.values())
            playable_key = job.playable_video_key  # made by an earlier run of the job
            if result.get("playable"):
                outputs.append(PLAYABLE_VIDEO)
                playable_key = f"{job.s3_output_prefix}/{PLAYABLE_VIDEO[0]}"
            for name, content_type in outputs:
                key = f"{job.s3_output_prefix}/{name}"
                path = out / name
                await self._retrying(
                    job.id,
                    f"upload {name}",
                    lambda key=key, path=path, ct=content_type: self.storage.put_file(
                        key, path, ct
                    ),
                )
            return result["summary"], playable_key, result.get("court") or job.court
        finally:
            await asyncio.shield(asyncio.to_thread(shutil.rmtree, tmp, ignore_errors=True))

    async def _analyse_file(self, job: Job, video: Path, out: Path) -> dict[str, Any]:
        """Analyses the video in a worker process; returns its final message."""
        # No court (null) is found on the video by the worker, as its first step.
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
                # A new court does not change the video: its copy is made once.
                *(["--no-playable-copy"] if job.playable_video_key else []),
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
        return result

    async def _follow(self, job_id: str, process: asyncio.subprocess.Process) -> dict[str, Any]:
        """Relays the worker's progress into the job; returns its final message. Raises
        JobFailed (and the caller kills the process) past the time limit, or when the worker
        has said nothing for too long: a decoder stuck on a broken file."""
        assert process.stdout is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout_s
        last_write = 0.0
        final: dict[str, Any] = {}
        while True:
            wait = min(self.stall_timeout_s, deadline - loop.time())
            try:
                line = await asyncio.wait_for(process.stdout.readline(), max(wait, 0.0))
            except TimeoutError:
                if loop.time() >= deadline:
                    raise JobFailed(
                        f"the analysis ran past its time limit of {self.timeout_s:g} s"
                    ) from None
                raise JobFailed(
                    f"the analysis made no progress for {self.stall_timeout_s:g} s"
                ) from None
            if not line:
                return final
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "progress" not in message:
                final = message
                continue
            now = time.monotonic()
            if now - last_write >= PROGRESS_WRITE_S:
                last_write = now
                await self._write_progress(job_id, float(message["progress"]))

    async def _write_progress(self, job_id: str, progress: float) -> None:
        """Progress is only shown to the user: the analysis goes on when it cannot be saved."""
        try:
            await self._update(job_id, progress=progress)
        except SQLAlchemyError as exc:
            log.warning("job %s: progress not saved: %s", job_id, exc)

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

    async def load(self, job_id: str) -> Job | None:
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
