"""The aiohttp application: wiring, JSON errors and the static pages."""

from __future__ import annotations

import logging

from aiohttp import web

from server.config import Settings

log = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)


@web.middleware
async def json_errors(request: web.Request, handler) -> web.StreamResponse:
    """Every error leaves as `{"error": ..., "detail": ...}` with its HTTP status."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        return web.json_response({"error": exc.reason, "detail": None}, status=exc.status)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return web.json_response({"error": "Internal Server Error", "detail": None}, status=500)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(request.app[SETTINGS].static_dir / "index.html")


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings.from_env()
    app = web.Application(middlewares=[json_errors], client_max_size=settings.max_request_bytes)
    app[SETTINGS] = settings
    app.router.add_get("/api/v1/health", health)
    app.router.add_get("/", index)
    app.router.add_static("/static/", settings.static_dir)
    return app


def run(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger().setLevel(logging.INFO)
    log.info(
        "serving on http://%s:%d (data in %s)", settings.host, settings.port, settings.data_dir
    )
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None)
