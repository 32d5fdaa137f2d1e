"""The aiohttp application: wiring, JSON errors, resources started and stopped with the app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web
from redis.exceptions import RedisError

from server.accounts import Accounts
from server.cleanup import StorageCleaner
from server.cluster.cluster import Cluster
from server.config import Settings
from server.context import (
    ACCOUNTS,
    CLEANER,
    CLUSTER,
    DB,
    DRAIN,
    JOBS,
    SETTINGS,
    SHARES,
    STORAGE,
    STREAMS,
    UPLOADS,
)
from server.db import Database
from server.drain import Drain, handle_sigterm
from server.errors import ApiError
from server.health import routes as health_routes
from server.job_queue import build_jobs
from server.logs import QueryFreeAccessLogger, setup_logging
from server.routes import auth, court, files, jobs, matches, shares, streams, uploads
from server.routes import metrics as metrics_routes
from server.security_headers import install as install_security_headers
from server.shares import Shares
from server.streams import Streams
from server.uploads import Uploads
from storage import (
    InvalidKey,
    InvalidUpload,
    LocalStorage,
    ObjectNotFound,
    S3Storage,
    Storage,
    StorageError,
    StorageUnavailable,
    TooLarge,
    UploadClosed,
)

log = logging.getLogger(__name__)

__all__ = ["SETTINGS", "create_app", "run"]


@web.middleware
async def json_errors(request: web.Request, handler) -> web.StreamResponse:
    """Every error leaves as `{"error": ..., "detail": ...}` with its HTTP status."""
    try:
        return await handler(request)
    except ApiError as exc:
        response = _error(exc.status, exc.message, exc.detail)
        if exc.retry_after_s is not None:
            response.headers["Retry-After"] = str(exc.retry_after_s)
        return response
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        return _error(exc.status, exc.reason, None)
    except ObjectNotFound as exc:
        return _error(404, "not found", str(exc))
    except InvalidKey as exc:
        return _error(400, "invalid storage key", str(exc))
    except InvalidUpload as exc:
        return _error(400, str(exc), None)
    except TooLarge as exc:
        return _error(413, str(exc), None)
    except UploadClosed as exc:
        return _error(409, str(exc), None)
    except RedisError as exc:
        log.warning("redis unavailable on %s %s: %s", request.method, request.path, exc)
        return _error(503, "the live sessions' shared state is unavailable, try again", str(exc))
    except StorageUnavailable as exc:
        log.warning("storage unavailable on %s %s: %s", request.method, request.path, exc)
        return _error(503, "storage is unavailable, try again", str(exc))
    except StorageError as exc:
        log.error("storage error on %s %s: %s", request.method, request.path, exc)
        return _error(502, "storage error", str(exc))
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error(500, "Internal Server Error", None)


def _error(status: int, message: str, detail: object) -> web.Response:
    return web.json_response({"error": message, "detail": detail}, status=status)


def page(name: str):
    async def handler(request: web.Request) -> web.FileResponse:
        return web.FileResponse(request.app[SETTINGS].static_dir / name)

    return handler


def build_storage(settings: Settings) -> Storage:
    if settings.s3_bucket:
        return S3Storage(
            settings.s3_bucket,
            region=settings.aws_region,
            endpoint_url=settings.s3_endpoint_url,
            cloudfront_domain=settings.cloudfront_domain,
        )
    return LocalStorage(settings.files_dir, settings.signing_key(), url_prefix="/api/v1/files")


async def database_context(app: web.Application) -> AsyncIterator[None]:
    app[SETTINGS].data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(app[SETTINGS].database)
    await db.migrate()
    app[DB] = db
    app[ACCOUNTS] = Accounts(db, app[SETTINGS])
    app[SHARES] = Shares(db, app[SETTINGS])
    yield
    app[ACCOUNTS].close()
    await db.close()


async def storage_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    storage = build_storage(settings)
    if isinstance(storage, S3Storage):
        await storage.ensure_bucket(list(settings.cors_origins) or ["*"])
    if isinstance(storage, LocalStorage):
        removed = await storage.remove_leftovers()
        if removed:
            log.info("removed %d unfinished file(s) left in local storage by a stop", removed)
    app[STORAGE] = storage
    yield
    await storage.close()


async def jobs_context(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    jobs = build_jobs(settings, app[DB], app[STORAGE], app[CLEANER])
    app[JOBS] = jobs
    app[UPLOADS] = Uploads(app[DB], app[STORAGE], jobs, app[CLEANER], settings)
    await jobs.start()
    yield
    await jobs.close()


async def cleanup_context(app: web.Application) -> AsyncIterator[None]:
    cleaner = StorageCleaner(app[DB], app[STORAGE], app[SETTINGS].upload_sweep_s)
    app[CLEANER] = cleaner
    cleaner.start()
    yield
    await cleaner.close()


async def cluster_context(app: web.Application) -> AsyncIterator[None]:
    """With REDIS_URL, this node shares the live sessions with the others (see README)."""
    if not app[SETTINGS].cluster:
        yield
        return
    cluster = Cluster(app[SETTINGS], app[DB])
    app[CLUSTER] = cluster
    yield
    await cluster.close()


async def streams_context(app: web.Application) -> AsyncIterator[None]:
    cluster = app.get(CLUSTER)
    streams = Streams(app[DB], app[STORAGE], app[SETTINGS], app[CLEANER], app[DRAIN], cluster)
    await streams.recover()
    app[STREAMS] = streams
    if cluster is not None:
        await cluster.start(streams.node_state, streams.after_heartbeat)  # takes sessions from now
    yield
    await streams.close()


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings.from_env()
    app = web.Application(
        middlewares=[metrics_routes.count_requests, json_errors],
        client_max_size=settings.max_request_bytes,
    )
    app[SETTINGS] = settings
    app[DRAIN] = Drain()
    install_security_headers(app, settings)
    app.cleanup_ctx.extend(
        [
            database_context,
            storage_context,
            cleanup_context,
            jobs_context,
            cluster_context,
            streams_context,
        ]
    )
    app.router.add_routes(health_routes)
    app.router.add_routes(metrics_routes.routes)
    for module in (auth, uploads, jobs, shares, files, streams, matches, court):
        app.router.add_routes(module.routes)
    app.router.add_get("/", page("index.html"))
    app.router.add_static("/static/", settings.static_dir)
    return app


def run(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    setup_logging(settings.log_level, settings.log_format)
    if settings.public_url:
        log.info("links handed out point at %s", settings.public_url)
    else:
        log.info("links handed out point at the listening address (set PUBLIC_URL to change)")

    def started(_: str) -> None:
        # Called once the start-up (migrations included) is done and the socket listens.
        log.info(
            "serving on http://%s:%d (data in %s)", settings.host, settings.port, settings.data_dir
        )

    app = create_app(settings)
    app.on_startup.append(handle_sigterm)  # after the cleanup contexts: the app is complete
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        print=started,
        access_log_class=QueryFreeAccessLogger,
    )
