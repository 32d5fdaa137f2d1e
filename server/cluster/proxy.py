"""Forwarding a client's request to the node that holds its live session, and recognising a
request forwarded by another node."""

from __future__ import annotations

import logging

import aiohttp
from aiohttp import web

from server.cluster import node_auth
from server.errors import ApiError

log = logging.getLogger(__name__)

# What the holding node needs of the client's request, and what the client needs back.
REQUEST_HEADERS = ("Authorization", "Content-Type")
RESPONSE_HEADERS = ("Content-Type", "Retry-After", "Content-Disposition")
# An offer's answer waits for the node's ICE candidates; ending writes the report.
FORWARD_TIMEOUT_S = 120.0


class NodeUnreachable(ApiError):
    status = 503


class Forbidden(ApiError):
    status = 403


async def forwarded(request: web.Request, key: bytes) -> bool:
    """True for a request another node signed; 403 for a signature that does not hold."""
    value = request.headers.get(node_auth.HEADER)
    if value is None:
        return False
    try:
        node_auth.verify(key, value, request.method, request.path_qs, await request.read())
    except node_auth.InvalidNodeSignature as exc:
        raise Forbidden(str(exc)) from exc
    return True


async def forward(
    http: aiohttp.ClientSession, request: web.Request, node_url: str, key: bytes, retry_s: int
) -> web.Response:
    """The holding node's answer to this request, passed back as it is."""
    body = await request.read()
    headers = {name: request.headers[name] for name in REQUEST_HEADERS if name in request.headers}
    headers[node_auth.HEADER] = node_auth.sign(key, request.method, request.path_qs, body)
    try:
        async with http.request(
            request.method,
            node_url + request.path_qs,
            data=body,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=FORWARD_TIMEOUT_S),
            allow_redirects=False,
        ) as response:
            content = await response.read()
            passed = {n: response.headers[n] for n in RESPONSE_HEADERS if n in response.headers}
            return web.Response(status=response.status, body=content, headers=passed)
    except (aiohttp.ClientError, TimeoutError) as exc:
        log.warning("node %s did not answer %s %s: %s", node_url, request.method, request.path, exc)
        raise NodeUnreachable(
            f"the server holding this session is not answering: try again in {retry_s} s",
            detail={"retry_after_s": retry_s},
            retry_after_s=retry_s,
        ) from exc
