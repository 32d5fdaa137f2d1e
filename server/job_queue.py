"""Where analysis jobs wait and who runs them: one small interface, two engines.

Without `REDIS_URL`, the in-process `JobRunner` (its queue in memory, rebuilt from the database
at each start) runs them, as a single server always has. With `REDIS_URL`, jobs go through a
SAQ queue on Redis, worked off by `badminton worker` processes on any machine and by API nodes
whose `JOB_WORKERS` is above 0. SAQ hands each job to one worker at a time; the worker touches
the job every few seconds (its heartbeat), and a job whose worker stopped touching it for
`JOB_HEARTBEAT_S` (a killed process, a lost machine) is swept back onto the queue by any other
worker and runs again. Deleting a job aborts it through SAQ on whichever worker has it.

Redis only says which worker runs which job: the job's row in the database stays the record
of its status, progress, time left and attempts, so every node shows the same, and a run
that is repeated writes the same rows and storage keys again, never new ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Protocol

from redis.exceptions import RedisError
from saq import CronJob, Worker
from saq.job import TERMINAL_STATUSES
from saq.queue.redis import RedisQueue
from sqlmodel import col, select

from server.cleanup import StorageCleaner
from server.config import Settings
from server.db import Database
from server.jobs import JobRunner, remove_leftovers
from server.models import Job, JobStatus
from storage import Storage

log = logging.getLogger(__name__)

QUEUE_NAME = "analysis"
TASK = "analyse"
ABORT_POLL_S = 1  # how often a worker asks whether one of its jobs was deleted
# SAQ's own retries only carry a job back to the queue (after a swept worker, an unexpected
# error): the job's attempts in the database decide when it is given up. Enough of them that
# the database, not SAQ, always says the last word.
QUEUE_RETRIES = 1000
RETRY_DELAY_S = 2.0
RETRY_MAX_DELAY_S = 60.0


class NodeStopping(Exception):
    """This node is draining: the job goes back onto the queue for another worker."""


class AnalysisQueue(RedisQueue):
    """SAQ's Redis queue, whose sweep of abandoned jobs starts one sweep interval after this
    process does. A sweep takes a job that a worker has just taken off the queue, and not yet
    marked active, for abandoned (a race SAQ knows of); without the pause, a worker starting
    while jobs wait would often sweep its own first job at once, costing it an attempt."""

    def __init__(self, *args: Any, first_sweep_after_s: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._first_sweep = time.monotonic() + first_sweep_after_s

    async def sweep(self, lock: int = 60, abort: float = 5.0) -> list[str]:
        if time.monotonic() < self._first_sweep:
            return []
        return await super().sweep(lock, abort)


class Jobs(Protocol):
    """What the API needs of whatever runs the jobs."""

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def enqueue(self, job_id: str) -> None: ...

    async def cancel(self, job_id: str) -> None: ...

    def pause(self) -> None: ...

    @property
    def running(self) -> list[str]: ...


def build_jobs(
    settings: Settings, db: Database, storage: Storage, cleaner: StorageCleaner | None
) -> Jobs:
    """The engine the settings ask for: SAQ on Redis, else the in-process runner."""
    if settings.redis_url:
        return QueuedJobs(settings, db, storage, cleaner, workers=settings.job_workers)
    return JobRunner.from_settings(settings, db, storage, cleaner)


class QueuedJobs:
    """Jobs on the SAQ queue: enqueued and cancelled from here, and worked off here by
    `workers` jobs at once (none when 0: then another process works them off)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        storage: Storage,
        cleaner: StorageCleaner | None,
        *,
        workers: int,
        handle_signals: bool = False,
    ) -> None:
        assert settings.redis_url
        self.settings = settings
        self.db = db
        heartbeat = max(1, round(settings.job_heartbeat_s))
        self.queue = AnalysisQueue.from_url(
            settings.redis_url, name=QUEUE_NAME, first_sweep_after_s=heartbeat
        )
        self.runner = JobRunner.from_settings(settings, db, storage, cleaner, workers=0)
        self.worker: Worker | None = None
        self._work: asyncio.Task[None] | None = None
        self._paused = False
        self._active: set[str] = set()  # jobs this process runs now
        if workers > 0:
            self.worker = Worker(
                self.queue,
                functions=[(TASK, self._analyse)],
                concurrency=workers,
                startup=self._startup,
                cron_jobs=[CronJob(self._requeue_unfinished, cron="* * * * *", timeout=60)],
                # The sweep of jobs whose worker fell silent runs as often as a heartbeat may
                # be missed: a dead worker's job is queued again within about two heartbeats.
                timers={"sweep": heartbeat, "abort": ABORT_POLL_S},
            )
            if not handle_signals:
                # Inside `badminton serve`, the web server owns SIGINT and SIGTERM.
                self.worker.SIGNALS = []

    async def start(self) -> None:
        await self.queue.connect()
        if self.worker is not None:
            self._work = asyncio.create_task(self.worker.start(), name="job-queue-worker")

    async def run(self) -> None:
        """Works jobs off until SIGINT or SIGTERM (the `badminton worker` command)."""
        assert self.worker is not None
        await self.queue.connect()
        try:
            await self.worker.start()
        finally:
            await self.queue.disconnect()

    async def close(self) -> None:
        """Stops working: a job cut short goes back onto the queue, its attempt counted."""
        if self.worker is not None and self._work is not None:
            with contextlib.suppress(RedisError, OSError):  # Redis gone: nothing to tell it
                await self.worker.stop()
            await asyncio.gather(self._work, return_exceptions=True)
        with contextlib.suppress(RedisError, OSError):
            await self.queue.disconnect()

    def pause(self) -> None:
        """Takes no new job (the node is stopping): one handed to it goes back onto the
        queue for another worker; running ones go on."""
        self._paused = True

    @property
    def running(self) -> list[str]:
        return list(self._active)

    async def enqueue(self, job_id: str) -> None:
        """Puts the job on the queue. Its row says `queued` already: with Redis away, the
        workers queue it again within a minute of its return."""
        try:
            await self._enqueue(job_id)
        except (RedisError, OSError) as exc:
            log.warning("job %s: not on the queue yet (%s); it will be", job_id, exc)

    async def _enqueue(self, job_id: str) -> None:
        # The job's id is its key in the queue: queued twice, it is there once.
        heartbeat = max(1, round(self.settings.job_heartbeat_s))
        await self.queue.enqueue(
            TASK,
            key=job_id,
            job_id=job_id,
            heartbeat=heartbeat,
            timeout=0,  # the analysis keeps its own time limits (JOB_TIMEOUT_S)
            retries=QUEUE_RETRIES,
            retry_delay=RETRY_DELAY_S,
            retry_backoff=RETRY_MAX_DELAY_S,
        )

    async def cancel(self, job_id: str) -> None:
        """Takes the job off the queue, or stops it on the worker that runs it."""
        queued = await self.queue.job(job_id)
        if queued is not None and queued.status not in TERMINAL_STATUSES:
            await self.queue.abort(queued, error="the job was deleted")

    # -- on a worker -----------------------------------------------------------------------

    async def _startup(self, ctx: dict[str, Any]) -> None:
        """Removes the job folders of this process's previous run (killed mid-job: those
        jobs were taken up elsewhere; each worker has a DATA_DIR of its own)."""
        await asyncio.to_thread(remove_leftovers, self.settings.work_dir)
        await self._requeue_unfinished(ctx)

    async def _requeue_unfinished(self, ctx: dict[str, Any]) -> None:
        """Queues every unfinished job of the database again, at a worker's start and then
        every minute: one that Redis lost (a restart without persistence) or never got (it
        was away when the job was confirmed) runs all the same. One still on the queue
        stays there once."""
        async with self.db.session() as session:
            ids = (
                await session.exec(
                    select(Job.id)
                    .where(col(Job.status).in_(JobStatus.UNFINISHED))
                    .order_by(col(Job.created_at))
                )
            ).all()
        for job_id in ids:
            await self.enqueue(job_id)

    async def _analyse(self, ctx: dict[str, Any], *, job_id: str) -> None:
        queued = ctx["job"]
        if self._paused:
            raise NodeStopping("this node is stopping")
        job = await self.runner.load(job_id)
        if job is None:
            return
        self._active.add(job_id)
        beating = asyncio.create_task(self._beat(queued), name=f"heartbeat-{job_id}")
        try:
            await self.runner.run_once(job_id)
        except asyncio.CancelledError:
            # Deleted (aborted) or this worker stops; the job's files go if it was deleted.
            await self.runner.remove_outputs_if_deleted(job)
            raise
        except Exception as exc:
            log.exception("job %s: unexpected error", job_id)
            if await self.runner.record_error(job_id, exc):
                raise  # SAQ queues it again after a pause
        finally:
            self._active.discard(job_id)
            beating.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beating

    async def _beat(self, queued: Any) -> None:
        """Touches the job on the queue while it runs: the sweep leaves it to this worker."""
        every = max(0.5, self.settings.job_heartbeat_s / 3)
        while True:
            await asyncio.sleep(every)
            try:
                await queued.update()
            except Exception as exc:  # Redis away for a moment: the next beat may reach it
                log.warning("job %s: heartbeat not sent: %s", queued.key, exc)
