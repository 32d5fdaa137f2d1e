"""Stopping a node without losing work: on SIGTERM it takes no new live session and no new
job, reports itself not ready (so the load balancer sends no more), lets the running live
sessions and jobs finish for up to DRAIN_TIMEOUT_S, queues again the jobs still running then,
and exits. Sessions still live at the timeout end properly (report and recording stored)."""

from __future__ import annotations

import asyncio
import logging
import signal
import time

from aiohttp import web
from sqlmodel import col, select

from server.context import DB, DRAIN, JOBS, SETTINGS, STREAMS
from server.jobs import INTERRUPTED
from server.models import Job, JobStatus, utcnow

log = logging.getLogger(__name__)

# A client refused by a draining node may ask again at once: the load balancer sends it to
# another node, or this one is back after its restart.
RETRY_AFTER_S = 5
POLL_S = 0.5


class Drain:
    """This node's stopping state, held by the app (`app[DRAIN]`): read by what takes new
    work, and by the node's readiness and capacity reports."""

    def __init__(self) -> None:
        self.since: float | None = None  # monotonic time SIGTERM arrived
        self.task: asyncio.Task[None] | None = None  # the drain itself, once started

    @property
    def active(self) -> bool:
        return self.since is not None

    def begin(self) -> bool:
        """Starts draining; False when it had started already."""
        if self.since is not None:
            return False
        self.since = time.monotonic()
        return True


async def handle_sigterm(app: web.Application) -> None:
    """On start-up of a served app: SIGTERM drains the node instead of stopping it at once (a
    second SIGTERM stops it now; SIGINT, a Ctrl-C, always does)."""
    loop = asyncio.get_running_loop()

    def on_sigterm() -> None:
        if app[DRAIN].begin():
            app[DRAIN].task = loop.create_task(drain(app), name="drain")
        else:
            log.info("SIGTERM again: stopping now")
            loop.call_soon(_stop)

    loop.add_signal_handler(signal.SIGTERM, on_sigterm)


async def drain(app: web.Application) -> None:
    settings, streams, jobs = app[SETTINGS], app[STREAMS], app[JOBS]
    timeout = settings.drain_timeout_s
    log.info(
        "SIGTERM: draining (%d live sessions, %d jobs running; up to %g s)",
        len(streams.live),
        len(jobs.running),
        timeout,
    )
    jobs.pause()
    deadline = time.monotonic() + timeout
    while (streams.live or jobs.running) and time.monotonic() < deadline:
        await asyncio.sleep(POLL_S)
    if streams.live:
        log.info("drain timeout: ending %d live sessions", len(streams.live))
    interrupted = jobs.running
    await jobs.close()
    if interrupted:
        await requeue(app, interrupted)
    log.info("drained: stopping")
    asyncio.get_running_loop().call_soon(_stop)


async def requeue(app: web.Application, job_ids: list[str]) -> None:
    """Jobs cut short by the stop go back to the queue for another node or the next start."""
    async with app[DB].session() as session:
        jobs = await session.exec(
            select(Job).where(col(Job.id).in_(job_ids), Job.status == JobStatus.RUNNING)
        )
        for job in jobs.all():
            job.status, job.progress, job.error = JobStatus.QUEUED, 0.0, INTERRUPTED
            job.updated_at = utcnow()
            session.add(job)
            log.info("job %s: queued again (the server stopped while it ran)", job.id)
        await session.commit()


def _stop() -> None:
    # What aiohttp's own signal handler raises: the app shuts down and cleans up in order.
    raise web.GracefulExit()
