"""`badminton worker`: works analysis jobs off the Redis queue on any machine that reaches
the database, Redis and the storage, `JOB_WORKERS` jobs at once, until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging

from server.app import build_storage
from server.cleanup import StorageCleaner
from server.config import ConfigError, Settings
from server.db import Database
from server.job_queue import QueuedJobs
from server.logs import setup_logging

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
        await jobs.run()
    finally:
        await storage.close()
        await db.close()


def run(settings: Settings) -> None:
    check(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    setup_logging()
    asyncio.run(work(settings))
