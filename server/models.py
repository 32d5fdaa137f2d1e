"""Database tables (SQLModel). The schema itself is created by the Alembic migrations in
server/migrations; a test checks that they and these models agree."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    email: str = Field(index=True, unique=True, max_length=320)
    password_hash: str = Field(max_length=255)
    is_admin: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class AuthToken(SQLModel, table=True):
    """A bearer token, stored as its SHA-256 only: a leaked table grants nothing."""

    __tablename__ = "auth_tokens"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=32)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None


class JobStatus:
    UPLOADING = "uploading"  # waiting for the client's bytes
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    UNFINISHED = (QUEUED, RUNNING)


class Job(SQLModel, table=True):
    """One uploaded match and its analysis."""

    __tablename__ = "jobs"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    owner_id: str = Field(foreign_key="users.id", index=True, max_length=32)
    status: str = Field(default=JobStatus.UPLOADING, index=True, max_length=16)
    progress: float = 0.0
    error: str | None = None
    filename: str = Field(max_length=255)
    content_type: str = Field(max_length=127)
    size: int = Field(sa_type=BigInteger)
    court: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    storage_type: str = Field(max_length=8)  # "local" | "s3"
    s3_video_key: str = Field(max_length=1024)
    s3_output_prefix: str = Field(max_length=1024)
    # The H.264 copy browsers play, under the output prefix; None when the video plays as is.
    playable_video_key: str | None = Field(default=None, max_length=1024)
    summary: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None


class UploadStatus:
    PENDING = "pending"  # URLs issued, the bytes may still be arriving
    COMPLETE = "complete"  # every byte arrived (multipart joined, or confirmed)
    ABORTED = "aborted"  # cancelled by the client
    EXPIRED = "expired"  # not confirmed before its URLs expired
    REJECTED = "rejected"  # the stored object was not the size announced

    DISCARDED = (ABORTED, EXPIRED, REJECTED)  # its bytes are gone or going


class Upload(SQLModel, table=True):
    """The transfer of one job's video into storage (single PUT or multipart) to `key`; on
    confirmation the object moves to the job's `s3_video_key`, which no upload URL names."""

    __tablename__ = "uploads"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    owner_id: str = Field(foreign_key="users.id", index=True, max_length=32)
    job_id: str = Field(foreign_key="jobs.id", index=True, max_length=32)
    key: str = Field(max_length=1024)
    size: int = Field(sa_type=BigInteger)
    content_type: str = Field(max_length=127)
    multipart_id: str | None = Field(default=None, max_length=1024)
    part_size: int | None = Field(default=None, sa_type=BigInteger)
    status: str = Field(default=UploadStatus.PENDING, max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    completed_at: datetime | None = None


class StorageCleanup(SQLModel, table=True):
    """Something to remove from storage once `due_at` has passed, kept until it is gone: the
    files of a deleted job (storage may be down), an abandoned upload, or what a late PUT
    on a URL still valid may have left (S3 cannot refuse one)."""

    __tablename__ = "storage_cleanups"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    # An object key, or a folder prefix when it ends in "/".
    key: str = Field(max_length=1024)
    # A multipart upload of `key` to abort, rather than an object to delete.
    upload_id: str | None = Field(default=None, max_length=1024)
    due_at: datetime = Field(default_factory=utcnow, index=True)
    attempts: int = 0
    error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class StreamStatus:
    SETUP = "setup"  # created; the court must be set before it starts
    STREAMING = "streaming"
    ENDED = "ended"


class StreamSession(SQLModel, table=True):
    """One live session: a publisher's camera, its analysis, viewers and recordings."""

    __tablename__ = "stream_sessions"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    owner_id: str = Field(foreign_key="users.id", index=True, max_length=32)
    name: str = Field(default="", max_length=200)
    status: str = Field(default=StreamStatus.SETUP, index=True, max_length=16)
    quality: str = Field(default="medium", max_length=16)
    court: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    frame_size: list[int] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    total_shots: int = 0
    total_rallies: int = 0
    stats: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    output_prefix: str = Field(max_length=1024)
    # The recording in progress: its local file, and the key it will have in storage.
    recording_path: str | None = Field(default=None, max_length=1024)
    recording_key: str | None = Field(default=None, max_length=1024)
    recordings: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    # Per recording key: {"offset_s", "duration_s"}, its place in the session's time (the
    # shots' times), and "cut_short": true for one stored after its process died (noted as
    # soon as the recording's first piece is in storage, with duration_s null until then).
    recording_spans: dict[str, dict[str, float | bool | None]] | None = Field(
        default=None, sa_column=Column(JSON)
    )
    report_key: str | None = Field(default=None, max_length=1024)
    heatmap_near_key: str | None = Field(default=None, max_length=1024)
    heatmap_far_key: str | None = Field(default=None, max_length=1024)
    error: str | None = None
    # In a cluster: the node (its NODE_URL) analysing the session while it streams.
    node_url: str | None = Field(default=None, max_length=255)
    # Times without analysis because the node holding the session was lost:
    # [{"from": iso, "to": iso or None while the phone has not come back}].
    gaps: list[dict[str, str | None]] | None = Field(default=None, sa_column=Column(JSON))


class ViewerLink(SQLModel, table=True):
    """A view-only link to one session; revoked links stop working at once."""

    __tablename__ = "viewer_links"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    session_id: str = Field(foreign_key="stream_sessions.id", index=True, max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None


class ReportKind:
    """What a report belongs to: the pair (kind, id) names any report a link may share."""

    JOB = "job"  # an uploaded match
    LIVE = "live"  # a live session, once it has ended

    ALL = (JOB, LIVE)


class ReportShare(SQLModel, table=True):
    """A read-only link to one finished report; revoked or expired links stop working."""

    __tablename__ = "report_shares"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    owner_id: str = Field(foreign_key="users.id", index=True, max_length=32)
    report_kind: str = Field(max_length=16)
    report_id: str = Field(index=True, max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None
