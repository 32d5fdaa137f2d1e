"""Server settings, read from environment variables (see the README for the list)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T", int, float)

MB = 1024 * 1024
GB = 1024 * MB


class ConfigError(ValueError):
    """A setting has a value the server cannot use."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    static_dir: Path = Path(__file__).resolve().parents[1] / "static"
    max_request_bytes: int = 1 * MB  # JSON bodies; uploads go to their own routes
    # Database: SQLite under data_dir unless a URL is given (postgresql+asyncpg://...).
    database_url: str | None = None
    # Storage: local files under data_dir/files unless an S3 bucket is named.
    s3_bucket: str | None = None
    aws_region: str = "us-east-1"
    s3_endpoint_url: str | None = None
    cloudfront_domain: str | None = None
    # Origins allowed to PUT straight to the bucket (CORS); the server's own by default.
    cors_origins: tuple[str, ...] = ()
    # Signs tokens' sibling secrets: local storage URLs and viewer links. Generated and kept
    # in data_dir when not given, so links survive a restart.
    secret_key: str | None = None
    redis_url: str | None = None
    turn_secret: str | None = None
    turn_urls: tuple[str, ...] = ()
    stun_urls: tuple[str, ...] = ()
    token_ttl_s: int = 30 * 24 * 3600
    upload_url_ttl_s: int = 3600
    download_url_ttl_s: int = 3600
    single_upload_max_bytes: int = 100 * MB
    max_upload_bytes: int = 50 * 1024 * MB
    upload_part_bytes: int = 16 * MB
    # Per user: uploads requested and not yet confirmed (URLs still valid), and the bytes of
    # every video kept or announced.
    max_uploads_in_flight: int = 4
    user_quota_bytes: int = 100 * GB
    # How often uploads whose URLs expired unconfirmed, and storage deletions that could not
    # be done at once, are cleaned up.
    upload_sweep_s: float = 300.0
    analysis_fps: float = 15.0
    job_workers: int = 1
    job_retries: int = 3
    # Live streams: poses per second and player (at most the stream's own rate), and how long
    # a publisher that dropped off may take to reconnect before its session ends.
    live_pose_fps: float = 10.0
    # Poses per second the machine spends on all live sessions together (~0.6 of a core here).
    live_pose_budget: float = 40.0
    # Live sessions at once (0: two per CPU core). Past what the CPU can analyse, frames would
    # wait in the decoders and every stream would lag, so more are refused.
    max_live_sessions: int = 0
    publisher_grace_s: float = 30.0

    @property
    def database(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'badminton.db').resolve()}"

    @property
    def live_session_limit(self) -> int:
        return self.max_live_sessions or 2 * (os.cpu_count() or 1)

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @property
    def work_dir(self) -> Path:
        """Where jobs keep their video while they analyse it: on the data volume, beside the
        local files (whose uploads are then linked, not copied), not in a small /tmp."""
        return self.data_dir / "work"

    def signing_key(self) -> bytes:
        """The configured secret, or one generated once and kept in the data folder."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.data_dir / "secret_key"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        return path.read_text().strip().encode()

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        try:
            return cls(
                host=env.get("HOST", cls.host),
                port=int(env.get("PORT", cls.port)),
                data_dir=Path(env.get("DATA_DIR", "data")),
                static_dir=Path(env.get("STATIC_DIR", str(cls.static_dir))),
                database_url=env.get("DATABASE_URL") or None,
                s3_bucket=env.get("S3_BUCKET") or None,
                aws_region=env.get("AWS_REGION", cls.aws_region),
                s3_endpoint_url=env.get("S3_ENDPOINT_URL") or None,
                cloudfront_domain=env.get("CLOUDFRONT_DOMAIN") or None,
                cors_origins=_split(env.get("CORS_ORIGINS")),
                secret_key=env.get("SECRET_KEY") or None,
                redis_url=env.get("REDIS_URL") or None,
                turn_secret=env.get("TURN_SECRET") or None,
                turn_urls=_split(env.get("TURN_URLS")),
                stun_urls=_split(env.get("STUN_URLS")),
                analysis_fps=float(env.get("ANALYSIS_FPS", cls.analysis_fps)),
                job_workers=int(env.get("JOB_WORKERS", cls.job_workers)),
                live_pose_fps=float(env.get("LIVE_POSE_FPS", cls.live_pose_fps)),
                live_pose_budget=float(env.get("LIVE_POSE_BUDGET", cls.live_pose_budget)),
                max_live_sessions=int(env.get("MAX_LIVE_SESSIONS", cls.max_live_sessions)),
                publisher_grace_s=float(env.get("PUBLISHER_GRACE_S", cls.publisher_grace_s)),
                max_uploads_in_flight=_positive(
                    "MAX_UPLOADS_IN_FLIGHT", int(env.get("MAX_UPLOADS_IN_FLIGHT", 4))
                ),
                user_quota_bytes=GB
                * _positive("USER_QUOTA_GB", int(env.get("USER_QUOTA_GB", 100))),
                upload_sweep_s=_positive(
                    "UPLOAD_SWEEP_S", float(env.get("UPLOAD_SWEEP_S", cls.upload_sweep_s))
                ),
            )
        except ValueError as exc:
            raise ConfigError(f"bad setting: {exc}") from exc


def _positive(name: str, value: T) -> T:
    if not value > 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())
