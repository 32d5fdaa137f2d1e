"""What request handlers reach through the application: typed keys and request helpers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from server.accounts import Accounts
from server.config import Settings
from server.db import Database
from server.errors import BadRequest, Unauthorized
from server.json_input import JsonInputError, parse_json
from server.models import User

if TYPE_CHECKING:
    from server.cleanup import StorageCleaner
    from server.cluster.cluster import Cluster
    from server.drain import Drain
    from server.job_queue import Jobs
    from server.shares import Shares
    from server.streams import Streams
    from server.uploads import Uploads
    from storage import Storage

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", Database)
ACCOUNTS = web.AppKey("accounts", Accounts)
STORAGE: web.AppKey[Storage] = web.AppKey("storage")
JOBS: web.AppKey[Jobs] = web.AppKey("jobs")
UPLOADS: web.AppKey[Uploads] = web.AppKey("uploads")
CLEANER: web.AppKey[StorageCleaner] = web.AppKey("cleaner")
STREAMS: web.AppKey[Streams] = web.AppKey("streams")
SHARES: web.AppKey[Shares] = web.AppKey("shares")
DRAIN: web.AppKey[Drain] = web.AppKey("drain")
CLUSTER: web.AppKey[Cluster] = web.AppKey("cluster")  # only with REDIS_URL
USER = web.RequestKey("user", User)


def server_origin(request: web.Request) -> str:
    """Where clients reach this server: PUBLIC_URL, else the address the request arrived at.
    Never the request's Host header, which the client chooses."""
    configured = request.app[SETTINGS].public_url
    if configured:
        return configured
    scheme = "https" if request.secure else "http"
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        host, port = sockname[0], sockname[1]
    else:  # the connection has gone, or a Unix socket: the configured address
        host, port = request.app[SETTINGS].host, request.app[SETTINGS].port
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def absolute_url(request: web.Request, url: str) -> str:
    """Storage hands out server-relative URLs in local mode; clients get them whole."""
    return server_origin(request) + url if url.startswith("/") else url


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; a clear 400 for anything else."""
    raw = await request.read()  # kept by aiohttp: also after a node checked its signature
    if not raw:
        return {}
    try:
        body = parse_json(raw, request.app[SETTINGS].max_json_depth)
    except JsonInputError as exc:
        raise BadRequest(str(exc)) from exc
    if not isinstance(body, dict):
        raise BadRequest("expected a JSON object")
    return body


def bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("sign in first: send 'Authorization: Bearer <token>'")
    return token.strip()


async def current_user(request: web.Request) -> User:
    """The signed-in user of this request (401 otherwise)."""
    user = request.get(USER)
    if user is None:
        user = await request.app[ACCOUNTS].authenticate(bearer_token(request))
        request[USER] = user
    return user


def user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email}
