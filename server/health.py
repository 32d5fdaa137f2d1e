"""Liveness and readiness.

`/api/v1/health` says the process answers, and nothing else: cheap, no dependency, for the
container's HEALTHCHECK (a node must not be restarted because Redis is down). `/api/v1/ready`
says whether the node should get traffic: the database, the storage and Redis (when
REDIS_URL is set) each answer within a short time, and the node is not draining. The load
balancer's health check uses it.
"""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy import text

from server.context import DB, DRAIN, SETTINGS, STORAGE

log = logging.getLogger(__name__)

routes = web.RouteTableDef()

CHECK_TIMEOUT_S = 2.0
# A key no object has: asking for it reaches the bucket (or folder) and stores nothing.
PROBE_KEY = "health/ready-probe"


@routes.get("/api/v1/health")
async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/api/v1/ready")
async def ready(request: web.Request) -> web.Response:
    app = request.app
    checks = {"database": _database(app), "storage": _storage(app)}
    if app[SETTINGS].redis_url:
        checks["redis"] = _redis(app[SETTINGS].redis_url)
    results = dict(zip(checks, await asyncio.gather(*(_timed(c) for c in checks.values()))))
    failed = [name for name, result in results.items() if result != "ok"]
    draining = app[DRAIN].active
    if draining:
        failed.append("draining")
    if not failed:
        return web.json_response({"status": "ready", "checks": results})
    detail = {"failed": failed, "checks": results, "draining": draining}
    return web.json_response(
        {"error": f"not ready: {', '.join(failed)}", "detail": detail}, status=503
    )


async def _timed(check) -> str:
    """ "ok", or why not in a few words (the log has the full error: this page is public)."""
    try:
        await asyncio.wait_for(check, CHECK_TIMEOUT_S)
        return "ok"
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_S:g} s"
    except Exception as exc:
        log.warning("readiness check failed: %r", exc)
        return "unreachable"


async def _database(app: web.Application) -> None:
    async with app[DB].engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _storage(app: web.Application) -> None:
    await app[STORAGE].head(PROBE_KEY)


async def _redis(url: str) -> None:
    import redis.asyncio as redis

    client = redis.from_url(url, socket_connect_timeout=CHECK_TIMEOUT_S)
    try:
        await client.ping()
    finally:
        await client.aclose()
