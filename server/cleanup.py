"""Removal of stored objects that nothing may point to any more, made durable: what is to go
is written to the database (in the same transaction as the change that orphans it) before it
is removed, so that an unreachable storage delays a removal but never loses track of it.

A periodic sweep retries what is due and ends uploads whose URLs expired unconfirmed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db import Database
from server.models import (
    Job,
    JobStatus,
    ReportKind,
    ReportShare,
    StorageCleanup,
    Upload,
    UploadStatus,
    utcnow,
)
from storage import Storage, StorageError, StorageUnavailable

log = logging.getLogger(__name__)

SWEEP_BATCH = 200  # cleanups tried per sweep at most
MAX_RETRY_DELAY_S = 3600.0
EXPIRED = "the upload was not finished and confirmed before its URL expired"


def schedule(
    session: AsyncSession, key: str, due_at: datetime | None = None, upload_id: str | None = None
) -> StorageCleanup:
    """Adds the removal of `key` (a folder when it ends in "/", or the multipart upload
    `upload_id` of it) to the session; it happens once the session commits and `due_at`
    has passed."""
    record = StorageCleanup(key=key, upload_id=upload_id, due_at=due_at or utcnow())
    session.add(record)
    return record


def schedule_upload(session: AsyncSession, upload: Upload) -> list[StorageCleanup]:
    """Everything an upload may have left in storage: its parts, its object, and, once its
    URLs have expired, what a PUT arriving late may have made again."""
    now = utcnow()
    records = []
    if upload.multipart_id and upload.status == UploadStatus.PENDING:
        records.append(schedule(session, upload.key, now, upload.multipart_id))
    records.append(schedule(session, upload.key, now))
    if _aware(upload.expires_at) > now:
        records.append(schedule(session, upload.key, upload.expires_at))
    return records


async def claim_job(session: AsyncSession, job_id: str, from_status: str, **fields: Any) -> bool:
    """Moves a job out of `from_status` if it is still there; False when another request
    (a confirm, the sweep, a deletion) changed or removed it first."""
    result = await session.exec(
        update(Job)
        .where(col(Job.id) == job_id, col(Job.status) == from_status)
        .values(updated_at=utcnow(), **fields)
    )
    return result.rowcount == 1


class StorageCleaner:
    """Carries out scheduled removals: at once when asked, and in a periodic sweep."""

    def __init__(self, db: Database, storage: Storage, interval_s: float) -> None:
        self.db = db
        self.storage = storage
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._sweep_forever(), name="storage-cleanup")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def delete_job(self, job_id: str) -> bool:
        """Deletes a job and everything it stored. The job's row goes in the transaction
        that records what to remove, so nothing is forgotten; True when storage is already
        clean, False when the rest is left to the sweep (storage unreachable)."""
        async with self.db.session() as session:
            job = await session.get(Job, job_id)
            if job is None:
                return True
            uploads = (await session.exec(select(Upload).where(Upload.job_id == job_id))).all()
            records = [r for upload in uploads for r in schedule_upload(session, upload)]
            records.append(schedule(session, job.s3_video_key))
            records.append(schedule(session, job.s3_output_prefix + "/"))
            await session.exec(delete(Upload).where(col(Upload.job_id) == job_id))
            await session.exec(delete(Job).where(col(Job.id) == job_id))
            await session.exec(
                delete(ReportShare).where(
                    col(ReportShare.report_kind) == ReportKind.JOB,
                    col(ReportShare.report_id) == job_id,
                )
            )
            await session.commit()
        return await self.run(records)

    async def run(self, records: Sequence[StorageCleanup]) -> bool:
        """Carries out the records already due; True when none of them is left."""
        now = utcnow()
        done = True
        for record in records:
            if _aware(record.due_at) > now:
                continue
            error = await self._carry_out(record)
            if error is not None:
                done = False
                if isinstance(error, StorageUnavailable):
                    break  # the sweep tries the rest once storage answers again
        return done

    async def sweep(self) -> None:
        """Ends abandoned uploads, then carries out every removal that is due."""
        await self.expire_uploads()
        async with self.db.session() as session:
            due = (
                await session.exec(
                    select(StorageCleanup)
                    .where(col(StorageCleanup.due_at) <= utcnow())
                    .order_by(col(StorageCleanup.due_at))
                    .limit(SWEEP_BATCH)
                )
            ).all()
        await self.run(due)

    async def expire_uploads(self) -> int:
        """Fails the jobs whose upload URLs expired before the upload was confirmed and
        schedules the removal of their bytes; returns how many."""
        now = utcnow()
        async with self.db.session() as session:
            rows = (
                await session.exec(
                    select(Job, Upload)
                    .join(Upload, col(Upload.job_id) == col(Job.id))
                    .where(col(Job.status) == JobStatus.UPLOADING, col(Upload.expires_at) < now)
                )
            ).all()
        for job, upload in rows:
            async with self.db.session() as session:
                claimed = await claim_job(
                    session, job.id, JobStatus.UPLOADING, status=JobStatus.FAILED, error=EXPIRED
                )
                if not claimed:
                    continue  # confirmed or deleted meanwhile
                schedule_upload(session, upload)
                schedule(session, job.s3_video_key)
                await session.exec(
                    update(Upload)
                    .where(col(Upload.id) == upload.id)
                    .values(status=UploadStatus.EXPIRED)
                )
                await session.commit()
            log.info("job %s: upload expired unconfirmed, its bytes are removed", job.id)
        return len(rows)

    async def _carry_out(self, record: StorageCleanup) -> StorageError | None:
        """Removes what a record names and drops the record; on a storage error the record
        stays, with the error, for the next sweep."""
        try:
            if record.upload_id:
                await self.storage.abort_multipart(record.key, record.upload_id)
            elif record.key.endswith("/"):
                await self.storage.delete_prefix(record.key)
            else:
                await self.storage.delete(record.key)
        except StorageError as exc:
            log.warning("could not remove %s from storage yet: %s", record.key, exc)
            await self._failed(record, str(exc))
            return exc
        async with self.db.session() as session:
            await session.exec(delete(StorageCleanup).where(col(StorageCleanup.id) == record.id))
            await session.commit()
        return None

    async def _failed(self, record: StorageCleanup, error: str) -> None:
        """Keeps the record, tried again later and later, so that a removal that keeps
        failing does not hold up the ones behind it."""
        delay = min(self.interval_s * 2 ** min(record.attempts, 20), MAX_RETRY_DELAY_S)
        async with self.db.session() as session:
            await session.exec(
                update(StorageCleanup)
                .where(col(StorageCleanup.id) == record.id)
                .values(
                    attempts=StorageCleanup.attempts + 1,
                    error=error[:1000],
                    due_at=utcnow() + timedelta(seconds=delay),
                )
            )
            await session.commit()

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:  # the sweep must outlive a database or storage hiccup
                log.exception("storage cleanup sweep failed; trying again later")
            await asyncio.sleep(self.interval_s)


def _aware(moment: datetime) -> datetime:
    """SQLite gives datetimes back without their UTC zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
