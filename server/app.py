"""The aiohttp application: wiring, JSON errors, resources started and stopped with the app."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from server.accounts import Accounts
from server.cleanup import StorageCleaner
from server.config import Settings
from server.context import (
    ACCOUNTS,
    CLEANER,
    DB,
    JOBS,
    SETTINGS,
    SHARES,
    STORAGE,
    STREAMS,
    UPLOADS,
)
from server.db import Database
from server.errors import ApiError
from server.jobs import JobRunner
from server.logs import QueryFreeAccessLogger, setup_logging
from server.routes import auth, court, files, jobs, matches, shares, streams, uploads
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


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


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
    runner = JobRunner(
        app[DB],
        app[STORAGE],
        workers=settings.job_workers,
        analysis_fps=settings.analysis_fps,
        retries=settings.job_retries,
        work_dir=settings.work_dir,
        max_attempts=settings.job_max_attempts,
        timeout_s=settings.job_timeout_s,
        stall_timeout_s=settings.job_stall_timeout_s,
        cleaner=app[CLEANER],
    )
    app[JOBS] = runner
    app[UPLOADS] = Uploads(app[DB], app[STORAGE], runner, app[CLEANER], settings)
    await runner.start()
    yield
    await runner.close()


async def cleanup_context(app: web.Application) -> AsyncIterator[None]:
    cleaner = StorageCleaner(app[DB], app[STORAGE], app[SETTINGS].upload_sweep_s)
    app[CLEANER] = cleaner
    cleaner.start()
    yield
    await cleaner.close()


async def streams_context(app: web.Application) -> AsyncIterator[None]:
    streams = Streams(app[DB], app[STORAGE], app[SETTINGS])
    await streams.recover()
    app[STREAMS] = streams
    yield
    await streams.close()


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings.from_env()
    app = web.Application(middlewares=[json_errors], client_max_size=settings.max_request_bytes)
    app[SETTINGS] = settings
    install_security_headers(app, settings)
    app.cleanup_ctx.extend(
        [database_context, storage_context, cleanup_context, jobs_context, streams_context]
    )
    app.router.add_get("/api/v1/health", health)
    for module in (auth, uploads, jobs, shares, files, streams, matches, court):
        app.router.add_routes(module.routes)
    app.router.add_get("/", page("index.html"))
    app.router.add_static("/static/", settings.static_dir)
    return app


def run(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    setup_logging()
    if settings.public_url:
        log.info("links handed out point at %s", settings.public_url)
    else:
        log.info("links handed out point at the listening address (set PUBLIC_URL to change)")

    def started(_: str) -> None:
        # Called once the start-up (migrations included) is done and the socket listens.
        log.info(
            "serving on http://%s:%d (data in %s)", settings.host, settings.port, settings.data_dir
        )

    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        print=started,
        access_log_class=QueryFreeAccessLogger,
    )
