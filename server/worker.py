"""`badminton worker`: works analysis jobs off the Redis queue on any machine that reaches
the database, Redis and the storage, `JOB_WORKERS` jobs at once, until SIGINT or SIGTERM.

With METRICS_TOKEN set, a worker answers `/metrics` on its HOST and PORT as a node does: the
durations of the jobs it ran are counted where they ran, so each worker is scraped too."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from server.app import build_storage
from server.cleanup import StorageCleaner
from server.config import ConfigError, Settings
from server.context import DB, SETTINGS
from server.db import Database
from server.job_queue import QueuedJobs
from server.logs import setup_logging
from server.routes import metrics as metrics_routes

log = logging.getLogger(__name__)


def check(settings: Settings) -> None:
    if not settings.redis_url:
        raise ConfigError("a worker takes its jobs from Redis: set REDIS_URL")
    if settings.job_workers < 1:
        raise ConfigError("JOB_WORKERS must be at least 1 for a worker")


async def work(settings: Settings) -> None:
    db = Database(settings.database)
    storage = build_storage(settings)
    try:
        await db.migrate()
        cleaner = StorageCleaner(db, storage, settings.upload_sweep_s)
        jobs = QueuedJobs(
            settings, db, storage, cleaner, workers=settings.job_workers, handle_signals=True
        )
        log.info("working off jobs, %d at once", settings.job_workers)
        metrics = await serve_metrics(settings, db)
        try:
            await jobs.run()
        finally:
            if metrics is not None:
                await metrics.cleanup()
    finally:
        await storage.close()
        await db.close()


async def serve_metrics(settings: Settings, db: Database) -> web.AppRunner | None:
    """`/metrics` of this worker, behind METRICS_TOKEN (unset: nothing is served)."""
    if settings.metrics_token is None:
        return None
    app = web.Application()
    app[SETTINGS], app[DB] = settings, db
    app.router.add_routes(metrics_routes.routes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    log.info("metrics on http://%s:%d/metrics", settings.host, settings.port)
    return runner


def run(settings: Settings) -> None:
    check(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    setup_logging()
    asyncio.run(work(settings))
