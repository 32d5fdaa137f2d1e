"""Uploads of recorded matches: a job is created with a presigned URL (or multipart part URLs)
for its video, the client sends the bytes straight to storage, and confirming queues the
analysis once the object is there and looks like a video.

Each URL takes exactly the announced bytes. Confirming moves the video to the job's own key,
which no URL names: a PUT arriving later cannot replace what is analysed. Uploads left
unconfirmed are ended by the sweep in `server.cleanup` when their URLs expire.
"""

from __future__ import annotations

import asyncio
import math
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import col, func, select

from analysis.court import CORNER_NAMES, Court, CourtError
from server.cleanup import StorageCleaner, claim_job, schedule, schedule_upload
from server.config import Settings
from server.db import Database
from server.errors import ApiError, BadRequest, Conflict, NotFound, PayloadTooLarge
from server.jobs import safe_filename
from server.models import Job, JobStatus, Upload, UploadStatus, User, utcnow
from storage import MIN_PART_SIZE, ObjectInfo, PartUpload, Storage

if TYPE_CHECKING:
    from server.job_queue import Jobs

MAX_PARTS = 10_000  # S3's limit
SNIFF_BYTES = 64 * 1024
MAX_PIXEL = 100_000.0  # a corner's coordinate; frames are at most 8192 pixels wide


class NotAVideo(ApiError):
    status = 422


class TooManyUploads(ApiError):
    status = 429


class QuotaExceeded(ApiError):
    # Not 413: clients read that as "too big for one PUT, go multipart".
    status = 403


@dataclass(frozen=True)
class UploadSpec:
    filename: str
    content_type: str
    size: int
    court: dict[str, list[float]] | None

    @classmethod
    def parse(cls, body: dict[str, Any], settings: Settings) -> UploadSpec:
        filename, content_type, size = (
            body.get("filename"),
            body.get("content_type"),
            body.get("size"),
        )
        if not isinstance(filename, str) or not filename.strip() or len(filename) > 255:
            raise BadRequest("filename is required (at most 255 characters)")
        if not isinstance(content_type, str) or not re.fullmatch(
            r"video/[A-Za-z0-9.+-]+", content_type
        ):
            raise BadRequest("content_type must be a video type such as video/mp4")
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise BadRequest("size must be the file's size in bytes")
        if size > settings.max_upload_bytes:
            raise PayloadTooLarge(
                f"the file is larger than the {settings.max_upload_bytes // 2**30} GiB limit"
            )
        return cls(filename.strip(), content_type, size, parse_court(body.get("court")))


def parse_court(value: Any) -> dict[str, list[float]] | None:
    """The 4 corners as given, checked for shape (the frame size is checked at analysis)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest("court must be an object with far_left, far_right, near_right, near_left")
    missing = [name for name in CORNER_NAMES if name not in value]
    if missing:
        raise BadRequest(f"bad court: court is missing corner(s): {', '.join(missing)}")
    corners = {name: _corner(name, value[name]) for name in CORNER_NAMES}
    try:
        court = Court.from_mapping(corners)
    except CourtError as exc:
        raise BadRequest(f"bad court: {exc}") from exc
    points = court.corners.tolist()
    return {name: [float(v) for v in point] for name, point in zip(CORNER_NAMES, points)}


def _corner(name: str, point: Any) -> list[float]:
    """[x, y] in pixels: JSON numbers only (not "10" or true), within any video's frame."""
    if not (
        isinstance(point, list)
        and len(point) == 2
        and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) <= MAX_PIXEL
            for v in point
        )
    ):
        raise BadRequest(
            f"bad court: corner {name} must be [x, y], two numbers of pixels "
            f"(at most {MAX_PIXEL:g} in size), got {_preview(point)}"
        )
    return [float(v) for v in point]


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class Uploads:
    def __init__(
        self,
        db: Database,
        storage: Storage,
        jobs: Jobs,
        cleaner: StorageCleaner,
        settings: Settings,
    ) -> None:
        self.db = db
        self.storage = storage
        self.jobs = jobs
        self.cleaner = cleaner
        self.settings = settings
        # Quotas are checked and the new upload written under one lock, so that requests
        # sent at once cannot all pass the same check.
        self._quota_lock = asyncio.Lock()

    async def request_single(self, user: User, spec: UploadSpec) -> tuple[Job, str]:
        if spec.size > self.settings.single_upload_max_bytes:
            limit = self.settings.single_upload_max_bytes // 2**20
            raise PayloadTooLarge(
                f"files over {limit} MB are uploaded in parts: use /api/v1/upload/multipart/init"
            )
        job, upload = await self._create(user, spec)
        url = await self.storage.presign_put(
            upload.key, spec.content_type, self.settings.upload_url_ttl_s, size=spec.size
        )
        return job, url

    async def init_multipart(
        self, user: User, spec: UploadSpec
    ) -> tuple[Job, str, int, list[PartUpload]]:
        part_size = max(
            self.settings.upload_part_bytes, MIN_PART_SIZE, math.ceil(spec.size / MAX_PARTS)
        )
        count = math.ceil(spec.size / part_size)
        job, upload = await self._create(user, spec, part_size=part_size)
        upload_id = await self.storage.create_multipart(upload.key, spec.content_type)
        await self._set_upload(upload.id, multipart_id=upload_id)
        sizes = [part_size] * (count - 1) + [spec.size - (count - 1) * part_size]
        parts = await self.storage.presign_parts(
            upload.key, upload_id, range(1, count + 1), self.settings.upload_url_ttl_s, sizes
        )
        return job, upload_id, part_size, parts

    async def complete_multipart(self, user: User, job_id: str, parts: Any) -> Job:
        job, upload = await self._pending(user, job_id)
        if upload.multipart_id is None:
            raise BadRequest("this upload is a single PUT, not a multipart upload")
        if not isinstance(parts, list) or not parts:
            raise BadRequest("parts must be a list of {part_number, etag}")
        try:
            pairs = sorted((int(p["part_number"]), str(p["etag"])) for p in parts)
        except (KeyError, TypeError, ValueError) as exc:
            raise BadRequest("each part needs a part_number and an etag") from exc
        expected = math.ceil(upload.size / (upload.part_size or upload.size))
        if [n for n, _ in pairs] != list(range(1, expected + 1)):
            raise BadRequest(f"expected parts 1..{expected}, each once")
        if upload.status != UploadStatus.PENDING:
            raise Conflict("the parts of this upload were already joined")
        info = await self.storage.complete_multipart(upload.key, upload.multipart_id, pairs)
        if info.size != upload.size:
            await self._discard(job, upload, f"the parts add up to {info.size} bytes")
        await self._set_upload(upload.id, status=UploadStatus.COMPLETE, completed_at=utcnow())
        return job

    async def abort_multipart(self, user: User, job_id: str) -> None:
        """Cancels an upload (multipart or single PUT): its URLs stop working, its bytes go."""
        job, upload = await self._pending(user, job_id)
        await self._end(job, upload, UploadStatus.ABORTED, "upload cancelled")

    async def confirm(self, user: User, job_id: str, court: Any) -> Job:
        job, upload = await self._pending(user, job_id)
        # No court anywhere: the job finds it on the video first.
        court = parse_court(court) or job.court
        # A confirm cut short after the move finds the video at the job's key already.
        info = await self.storage.head(upload.key) or await self.storage.head(job.s3_video_key)
        if info is None:
            raise BadRequest("the video has not arrived in storage yet: upload it first")
        if info.key == upload.key:
            await self._check_size(job, upload, info)
            # From here on no URL can change the video: it lives at a key none names.
            info = await self.storage.move(upload.key, job.s3_video_key)
        await self._check_size(job, upload, info)  # a PUT may have landed before the move
        head = await self._first_bytes(job.s3_video_key)
        if looks_like_video(head):
            status, error = JobStatus.QUEUED, None
        else:
            status, error = JobStatus.FAILED, NOT_A_VIDEO
        async with self.db.session() as session:
            if not await claim_job(
                session, job.id, JobStatus.UPLOADING, status=status, error=error, court=court
            ):
                await session.rollback()
                await self._drop_moved(job)
                raise Conflict("the upload expired or the job was deleted meanwhile")
            upload_row = await session.get(Upload, upload.id)
            if upload_row is not None:
                upload_row.status, upload_row.completed_at = UploadStatus.COMPLETE, utcnow()
                session.add(upload_row)
                # S3 takes a PUT on a URL still valid: what it makes goes once they expire.
                schedule(session, upload_row.key, max(upload_row.expires_at, utcnow()))
            await session.commit()
            stored = await session.get(Job, job.id)
            assert stored is not None
        if stored.status == JobStatus.FAILED:
            raise NotAVideo(stored.error or "not a video", detail={"job_id": stored.id})
        await self.jobs.enqueue(stored.id)
        return stored

    async def _check_size(self, job: Job, upload: Upload, info: ObjectInfo) -> None:
        if info.size != upload.size:
            await self._discard(job, upload, f"the stored video has {info.size} bytes")

    async def _discard(self, job: Job, upload: Upload, found: str) -> None:
        """An object of another size than announced is removed, never analysed (S3 takes a
        multipart upload of any size); the client starts a new upload."""
        message = f"{found}, {upload.size} were announced: the upload was discarded"
        await self._end(job, upload, UploadStatus.REJECTED, message)
        raise BadRequest(message + "; upload the file again")

    async def _end(self, job: Job, upload: Upload, upload_status: str, error: str) -> None:
        """Fails the job and removes whatever its upload stored (durably, see cleanup)."""
        async with self.db.session() as session:
            if not await claim_job(
                session, job.id, JobStatus.UPLOADING, status=JobStatus.FAILED, error=error
            ):
                raise Conflict("this job's upload already ended")
            records = schedule_upload(session, upload)
            records.append(schedule(session, job.s3_video_key))
            row = await session.get(Upload, upload.id)
            if row is not None:
                row.status = upload_status
                session.add(row)
            await session.commit()
        await self.cleaner.run(records)

    async def _drop_moved(self, job: Job) -> None:
        """The video this confirm moved, when the job ended meanwhile."""
        async with self.db.session() as session:
            records = [schedule(session, job.s3_video_key)]
            await session.commit()
        await self.cleaner.run(records)

    async def _first_bytes(self, key: str) -> bytes:
        head = b""
        async for chunk in self.storage.iter_chunks(key, chunk_size=SNIFF_BYTES):
            head += chunk
            if len(head) >= SNIFF_BYTES:
                break
        return head[:SNIFF_BYTES]

    async def _create(
        self, user: User, spec: UploadSpec, part_size: int | None = None
    ) -> tuple[Job, Upload]:
        job = Job(
            owner_id=user.id,
            filename=spec.filename,
            content_type=spec.content_type,
            size=spec.size,
            court=spec.court,
            storage_type=self.storage.kind,
            s3_video_key="",
            s3_output_prefix="",
        )
        # Keys are made here, from the owner and a random job id: a client never names one.
        # The upload URLs name the upload's key; the video moves to the job's on confirm.
        name = safe_filename(spec.filename)
        job.s3_video_key = f"users/{user.id}/videos/{job.id}/{name}"
        job.s3_output_prefix = f"users/{user.id}/outputs/{job.id}"
        upload = Upload(
            owner_id=user.id,
            job_id=job.id,
            key=f"users/{user.id}/uploads/{job.id}/{name}",
            size=spec.size,
            content_type=spec.content_type,
            part_size=part_size,
            expires_at=utcnow() + timedelta(seconds=self.settings.upload_url_ttl_s),
        )
        async with self._quota_lock, self.db.session() as session:
            await self._check_quotas(session, user, spec.size)
            session.add(job)
            await session.flush()
            session.add(upload)
            await session.commit()
        return job, upload

    async def _check_quotas(self, session, user: User, size: int) -> None:
        in_flight = (
            await session.exec(
                select(func.count())
                .select_from(Upload)
                .join(Job, col(Job.id) == col(Upload.job_id))
                .where(
                    col(Upload.owner_id) == user.id,
                    col(Job.status) == JobStatus.UPLOADING,
                    col(Upload.expires_at) > utcnow(),
                )
            )
        ).one()
        limit = self.settings.max_uploads_in_flight
        if in_flight >= limit:
            raise TooManyUploads(
                f"{in_flight} uploads are already in progress (at most {limit}): "
                "finish or cancel one first"
            )
        stored = (
            await session.exec(
                select(func.coalesce(func.sum(Job.size), 0))
                .join(Upload, col(Upload.job_id) == col(Job.id))
                .where(
                    col(Job.owner_id) == user.id,
                    col(Upload.status).not_in(UploadStatus.DISCARDED),
                )
            )
        ).one()
        quota = self.settings.user_quota_bytes
        if stored + size > quota:
            raise QuotaExceeded(
                f"this upload would exceed the storage quota of {quota / 2**30:g} GiB "
                f"({stored / 2**30:.2f} GiB in use): delete some jobs first",
                detail={"used_bytes": stored, "quota_bytes": quota},
            )

    async def _pending(self, user: User, job_id: str) -> tuple[Job, Upload]:
        async with self.db.session() as session:
            job = await session.get(Job, job_id)
            if job is None or job.owner_id != user.id:
                raise NotFound("no such job")
            upload = await self._upload_of(session, job.id)
        if job.status != JobStatus.UPLOADING or upload.status in UploadStatus.DISCARDED:
            raise Conflict(f"this job's upload is already finished (status {job.status})")
        return job, upload

    @staticmethod
    async def _upload_of(session, job_id: str) -> Upload:
        upload = (await session.exec(select(Upload).where(Upload.job_id == job_id))).first()
        if upload is None:
            raise NotFound("no upload for this job")
        return upload

    async def _set_upload(self, upload_id: str, **fields: Any) -> None:
        async with self.db.session() as session:
            upload = await session.get(Upload, upload_id)
            if upload is not None:
                for name, value in fields.items():
                    setattr(upload, name, value)
                session.add(upload)
                await session.commit()


NOT_A_VIDEO = "not a video file: the upload is not in a known video format"


def looks_like_video(head: bytes) -> bool:
    """True for the containers cameras and phones write (MP4/MOV/3GP, Matroska/WebM, AVI,
    MPEG transport and program streams, FLV, raw H.264/HEVC); FFmpeg has the final word when
    the job decodes it."""
    if len(head) >= 12 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip"):
        return True
    if head.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: Matroska, WebM
        return True
    if head.startswith(b"RIFF") and head[8:12] in (b"AVI ", b"AVIX"):
        return True
    if head.startswith(b"\x47") and len(head) > 188 and head[188] == 0x47:  # MPEG-TS
        return True
    if len(head) > 196 and head[4] == 0x47 and head[196] == 0x47:  # M2TS (AVCHD .mts)
        return True
    if head.startswith((b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3", b"FLV")):
        return True
    return head.startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01"))  # Annex B elementary
