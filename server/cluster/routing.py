"""Handlers that must run on the node holding the live session: elsewhere, the request is
forwarded there (see README, "Several nodes")."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from server.cluster import proxy
from server.context import CLUSTER, STREAMS, current_user
from server.models import StreamSession

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def on_owner_node(
    place: Callable[[StreamSession], bool] | None = None,
) -> Callable[[Handler], Handler]:
    """Runs the handler on the session's node. `place` says for which sessions the request
    may put the session on a node (start, or the phone's reconnect)."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def routed(request: web.Request) -> web.StreamResponse:
            cluster = request.app.get(CLUSTER)
            if cluster is None or await proxy.forwarded(request, cluster.key):
                return await handler(request)
            session = await _session_of(request)
            placing = place is not None and place(session)
            answer = await cluster.route(request, session, placing)
            return answer if answer is not None else await handler(request)

        return routed

    return decorate


async def _session_of(request: web.Request) -> StreamSession:
    """The session a request is about, checked as its handler would (404 / 403 here)."""
    streams = request.app[STREAMS]
    if "token" in request.match_info:
        session, _ = await streams.viewer_session(request.match_info["token"])
        return session
    return await streams.owned(await current_user(request), request.match_info["session_id"])
