"""Server settings, read from environment variables (see the README for the list)."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from server.json_input import DEFAULT_MAX_DEPTH

T = TypeVar("T", int, float)

MB = 1024 * 1024
GB = 1024 * MB
# TURN credentials live long enough to set up a relay, and never long past a match.
MIN_TURN_TTL_S = 60
MAX_TURN_TTL_S = 6 * 3600
MIN_POSE_FPS = 3.0  # below this, who hit a shot is guesswork


class ConfigError(ValueError):
    """A setting has a value the server cannot use."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    static_dir: Path = Path(__file__).resolve().parents[1] / "static"
    max_request_bytes: int = 1 * MB  # JSON bodies; uploads go to their own routes
    max_json_depth: int = DEFAULT_MAX_DEPTH
    # The scheme://host[:port] clients reach the server at, used in every URL it hands out;
    # unset, the address the request arrived at (never the client's Host header).
    public_url: str | None = None
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
    # Cluster mode: nodes share Redis (and a PostgreSQL database); each is reached by the
    # others at its NODE_URL (default: the listening address, or the machine's name when it
    # listens everywhere) and renews its entry every heartbeat.
    redis_url: str | None = None
    node_url: str | None = None
    node_heartbeat_s: float = 2.0
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
    # A picture sent to find the court on (a JPEG or PNG frame).
    court_image_max_bytes: int = 8 * MB
    analysis_fps: float = 15.0
    job_workers: int = 1
    job_retries: int = 3
    # A job is given up (failed) after this many starts; a server stop mid-job counts as one.
    job_max_attempts: int = 3
    # The analysis process is killed past this time, or after this long without progress.
    job_timeout_s: float = 6 * 3600.0
    job_stall_timeout_s: float = 300.0
    # With REDIS_URL: a worker touches its job this often (a third of it, in fact); a job
    # untouched this long is taken up by another worker (about twice this in all).
    job_heartbeat_s: float = 10.0
    # Failed sign-ins allowed per account and per client address within the window; past
    # them, one more per window/limit. Hashing runs on its own threads, not the default pool.
    login_failures_per_account: int = 10
    login_failures_per_address: int = 50
    login_failure_window_s: float = 900.0
    password_hash_threads: int = 1
    # Live streams: poses per second and player (at most the stream's own rate, and within
    # the budget below): a High stream alone is posed on every frame, as its models learnt.
    live_pose_fps: float = 15.0
    # Poses per second the machine spends on all live sessions together (~0.6 of a core here).
    live_pose_budget: float = 40.0
    # Live sessions at once (0: two per CPU core). Past what the CPU can analyse, frames would
    # wait in the decoders and every stream would lag, so more are refused.
    max_live_sessions: int = 0
    # Live sessions one account may have at once, so that one user cannot take every slot.
    max_live_sessions_per_user: int = 2
    # How long a started session waits for its phone to connect (or reconnect) before it ends.
    publisher_grace_s: float = 30.0
    # How often a recording in progress is copied to storage: what a lost node loses of it.
    recording_flush_s: float = 10.0
    # TURN credentials' lifetime; a viewer link's are never longer than what is left of the link.
    turn_ttl_s: int = 3 * 3600
    # Viewers watching through one link at once, and usable links per session.
    max_viewers_per_link: int = 10
    max_viewer_links: int = 20
    # Share links to a finished report: their lifetime (the longest one may ask for), and
    # usable links per report.
    share_link_ttl_s: int = 7 * 24 * 3600
    max_share_links: int = 20
    # On SIGTERM: how long running live sessions and jobs get to finish before the node stops.
    drain_timeout_s: float = 600.0
    # Bearer token that /metrics asks for; unset, /metrics is off.
    metrics_token: str | None = None
    log_level: str = "INFO"
    log_format: str = "text"

    def __post_init__(self) -> None:
        self._check_start_up_settings()
        for name in ("max_live_sessions_per_user", "max_viewers_per_link", "max_viewer_links"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.upper()} must be at least 1")
        if self.max_live_sessions < 0:
            raise ConfigError("MAX_LIVE_SESSIONS must be 0 (automatic) or more")
        if not self.publisher_grace_s > 0:
            raise ConfigError("PUBLISHER_GRACE_S must be more than 0")
        if not MIN_TURN_TTL_S <= self.turn_ttl_s <= MAX_TURN_TTL_S:
            raise ConfigError(f"TURN_TTL_S must be between {MIN_TURN_TTL_S} and {MAX_TURN_TTL_S}")
        if self.share_link_ttl_s < 60:
            raise ConfigError("SHARE_LINK_TTL_S must be at least 60 seconds")
        if self.max_json_depth < 4:
            raise ConfigError("MAX_JSON_DEPTH must be at least 4 (a court inside a body)")
        if self.public_url is not None:
            object.__setattr__(self, "public_url", _origin(self.public_url))
        if self.node_url is not None:
            object.__setattr__(self, "node_url", _origin(self.node_url, "NODE_URL"))
        if not self.node_heartbeat_s > 0:
            raise ConfigError("NODE_HEARTBEAT_S must be more than 0")
        for name in (
            "job_max_attempts",
            "job_timeout_s",
            "job_stall_timeout_s",
            "job_heartbeat_s",
            "login_failures_per_account",
            "login_failures_per_address",
            "login_failure_window_s",
            "password_hash_threads",
            "max_share_links",
            "recording_flush_s",
        ):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name.upper()} must be positive, not {getattr(self, name)}")

    def _check_start_up_settings(self) -> None:
        """What the server would otherwise find out only when a job, a link or a connection
        fails: refused at start, with the variable named."""
        if not 1 <= self.port <= 65535:
            raise ConfigError(f"PORT must be between 1 and 65535, got {self.port}")
        for name in ("analysis_fps", "live_pose_fps", "live_pose_budget", "drain_timeout_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name.upper()} must be more than 0, got {getattr(self, name)}")
        if self.job_workers < 0:
            raise ConfigError(
                f"JOB_WORKERS must be 0 (no jobs on this node) or more, got {self.job_workers}"
            )
        if self.database_url is not None:
            _check_database_url(self.database_url)
        if self.redis_url is not None:
            _check_url("REDIS_URL", self.redis_url, ("redis", "rediss", "unix"))
        if self.s3_endpoint_url is not None:
            _check_url("S3_ENDPOINT_URL", self.s3_endpoint_url, ("http", "https"))
        for name, urls, schemes in (
            ("TURN_URLS", self.turn_urls, ("turn", "turns")),
            ("STUN_URLS", self.stun_urls, ("stun", "stuns")),
        ):
            for url in urls:
                if url.split(":", 1)[0] not in schemes or ":" not in url:
                    raise ConfigError(f"{name} must list {'/'.join(schemes)}: URLs, got {url!r}")
        if self.log_level.upper() not in LOG_LEVELS:
            raise ConfigError(
                f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {self.log_level!r}"
            )
        if self.log_format.lower() not in ("text", "json"):
            raise ConfigError(f"LOG_FORMAT must be text or json, got {self.log_format!r}")

    @property
    def internal_url(self) -> str:
        """Where other nodes reach this one: NODE_URL, else the listening address."""
        if self.node_url:
            return self.node_url
        # Listening everywhere: the machine's name, which its neighbours resolve (a container's
        # name on its network); set NODE_URL where they do not.
        host = socket.gethostname() if self.host in ("", "0.0.0.0", "::") else self.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    @property
    def database(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'badminton.db').resolve()}"

    @property
    def cluster(self) -> bool:
        """Several nodes share the live sessions (Redis set)."""
        return self.redis_url is not None

    @property
    def live_session_limit(self) -> int:
        return self.max_live_sessions or 2 * (os.cpu_count() or 1)

    def live_pose_rate(self, stream_fps: float, sessions: int) -> float:
        """Poses per second and player for each of `sessions` live streams: as many as the
        stream and LIVE_POSE_FPS allow, within LIVE_POSE_BUDGET shared by every session (two
        players each)."""
        share = self.live_pose_budget / (2 * max(1, sessions))
        return max(MIN_POSE_FPS, min(stream_fps, self.live_pose_fps, share))

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
                public_url=env.get("PUBLIC_URL") or None,
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
                node_url=env.get("NODE_URL") or None,
                node_heartbeat_s=float(env.get("NODE_HEARTBEAT_S", cls.node_heartbeat_s)),
                turn_secret=env.get("TURN_SECRET") or None,
                turn_urls=_split(env.get("TURN_URLS")),
                stun_urls=_split(env.get("STUN_URLS")),
                court_image_max_bytes=_positive(
                    "COURT_IMAGE_MAX_BYTES",
                    int(env.get("COURT_IMAGE_MAX_BYTES", cls.court_image_max_bytes)),
                ),
                analysis_fps=float(env.get("ANALYSIS_FPS", cls.analysis_fps)),
                job_workers=int(env.get("JOB_WORKERS", cls.job_workers)),
                job_max_attempts=int(env.get("JOB_MAX_ATTEMPTS", cls.job_max_attempts)),
                job_timeout_s=float(env.get("JOB_TIMEOUT_S", cls.job_timeout_s)),
                job_stall_timeout_s=float(env.get("JOB_STALL_TIMEOUT_S", cls.job_stall_timeout_s)),
                job_heartbeat_s=float(env.get("JOB_HEARTBEAT_S", cls.job_heartbeat_s)),
                login_failures_per_account=int(
                    env.get("LOGIN_FAILURES_PER_ACCOUNT", cls.login_failures_per_account)
                ),
                login_failures_per_address=int(
                    env.get("LOGIN_FAILURES_PER_ADDRESS", cls.login_failures_per_address)
                ),
                login_failure_window_s=float(
                    env.get("LOGIN_FAILURE_WINDOW_S", cls.login_failure_window_s)
                ),
                password_hash_threads=int(
                    env.get("PASSWORD_HASH_THREADS", cls.password_hash_threads)
                ),
                live_pose_fps=float(env.get("LIVE_POSE_FPS", cls.live_pose_fps)),
                live_pose_budget=float(env.get("LIVE_POSE_BUDGET", cls.live_pose_budget)),
                max_live_sessions=int(env.get("MAX_LIVE_SESSIONS", cls.max_live_sessions)),
                max_live_sessions_per_user=int(
                    env.get("MAX_LIVE_SESSIONS_PER_USER", cls.max_live_sessions_per_user)
                ),
                publisher_grace_s=float(env.get("PUBLISHER_GRACE_S", cls.publisher_grace_s)),
                recording_flush_s=float(env.get("RECORDING_FLUSH_S", cls.recording_flush_s)),
                turn_ttl_s=int(env.get("TURN_TTL_S", cls.turn_ttl_s)),
                max_viewers_per_link=int(env.get("MAX_VIEWERS_PER_LINK", cls.max_viewers_per_link)),
                max_viewer_links=int(env.get("MAX_VIEWER_LINKS", cls.max_viewer_links)),
                share_link_ttl_s=int(env.get("SHARE_LINK_TTL_S", cls.share_link_ttl_s)),
                max_share_links=int(env.get("MAX_SHARE_LINKS", cls.max_share_links)),
                drain_timeout_s=float(env.get("DRAIN_TIMEOUT_S", cls.drain_timeout_s)),
                metrics_token=env.get("METRICS_TOKEN") or None,
                log_level=env.get("LOG_LEVEL") or cls.log_level,
                log_format=env.get("LOG_FORMAT") or cls.log_format,
                max_json_depth=int(env.get("MAX_JSON_DEPTH", cls.max_json_depth)),
                max_uploads_in_flight=_positive(
                    "MAX_UPLOADS_IN_FLIGHT", int(env.get("MAX_UPLOADS_IN_FLIGHT", 4))
                ),
                user_quota_bytes=GB
                * _positive("USER_QUOTA_GB", int(env.get("USER_QUOTA_GB", 100))),
                upload_sweep_s=_positive(
                    "UPLOAD_SWEEP_S", float(env.get("UPLOAD_SWEEP_S", cls.upload_sweep_s))
                ),
            )
        except ConfigError:
            raise
        except ValueError as exc:
            raise ConfigError(f"bad setting: {_unreadable(env) or exc}") from exc


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _unreadable(env: Mapping[str, str]) -> str | None:
    """Which numeric variable could not be read as a number, said plainly."""
    numbers = {f.name.upper(): f.type for f in fields(Settings) if f.type in ("int", "float")}
    numbers["USER_QUOTA_GB"] = "int"
    for name, kind in numbers.items():
        if name in env:
            try:
                int(env[name]) if kind == "int" else float(env[name])
            except ValueError:
                what = "a whole number" if kind == "int" else "a number"
                return f"{name} must be {what}, got {env[name]!r}"
    return None


def _check_url(name: str, url: str, schemes: tuple[str, ...]) -> None:
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(f"{name} is not a URL: {url!r}") from exc
    if parts.scheme not in schemes or not (parts.hostname or parts.scheme == "unix"):
        raise ConfigError(f"{name} must be a {'/'.join(schemes)}:// URL with a host, got {url!r}")


def _check_database_url(url: str) -> None:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"DATABASE_URL is not a database URL: {url!r}") from exc
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(
            f"DATABASE_URL must be sqlite+aiosqlite:// or postgresql+asyncpg://, got {url!r}"
        )
    if parsed.get_backend_name() == "postgresql" and not (parsed.host or "host" in parsed.query):
        raise ConfigError(f"DATABASE_URL names no database host: {url!r}")


def _positive(name: str, value: T) -> T:
    if not value > 0:
        raise ConfigError(f"{name} must be positive, got {value}")
    return value


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def _origin(url: str, name: str = "PUBLIC_URL") -> str:
    """A URL setting as `scheme://host[:port]`: the server's routes live at the root."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(f"{name} is not a URL: {url!r}") from exc
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        raise ConfigError(f"{name} must be http(s)://host[:port], got {url!r}")
    return f"{parts.scheme}://{parts.netloc}"
