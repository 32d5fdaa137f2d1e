"""This node's part in a cluster: its heartbeat in the registry, the live bus, the sweep of
lost nodes' sessions, and where a request about a session is answered."""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

import aiohttp
from aiohttp import web
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from server.cluster import proxy
from server.cluster.live_bus import LiveBus
from server.cluster.nodes import NodeInfo, NodeRegistry
from server.cluster.placement import cluster_capacity, placement_order, retry_after_s
from server.cluster.takeover import end_sessions_of_lost_nodes
from server.config import Settings
from server.db import Database
from server.errors import ApiError
from server.models import StreamSession, StreamStatus

log = logging.getLogger(__name__)

STATUS_KEPT_S = 60.0  # a lost node's last status outlives its entry: it dates the gap


class Cluster:
    def __init__(self, settings: Settings, db: Database) -> None:
        assert settings.redis_url is not None
        self.settings = settings
        self.db = db
        self.own_url = settings.internal_url
        self.key = settings.signing_key()
        self.redis = Redis.from_url(settings.redis_url, decode_responses=True)
        self.registry: NodeRegistry | None = None
        self.bus = LiveBus(self.redis, 3 * settings.node_heartbeat_s + STATUS_KEPT_S)
        self.http = aiohttp.ClientSession()
        self._heartbeat: asyncio.Task[None] | None = None
        self._on_beat: Callable[[list[str]], Awaitable[None]] | None = None

    async def start(
        self, state: Callable[[], NodeInfo], on_beat: Callable[[list[str]], Awaitable[None]]
    ) -> None:
        """Joins the cluster: announced before the node serves, then every heartbeat, after
        which `on_beat` runs with the sessions it found lost with their node."""
        self.registry = NodeRegistry(self.redis, self.settings.node_heartbeat_s, state)
        self._on_beat = on_beat
        await self.registry.announce()
        self.bus.start()
        self._heartbeat = asyncio.create_task(self._beat(), name="node-heartbeat")
        log.info("node %s joined the cluster", self.own_url)

    async def close(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            await asyncio.gather(self._heartbeat, return_exceptions=True)
        if self.registry is not None:
            try:
                await self.registry.withdraw()
            except RedisError as exc:
                log.warning("node %s: could not leave the registry: %s", self.own_url, exc)
        await self.bus.close()
        await self.http.close()
        await self.redis.aclose()

    async def announce(self) -> None:
        """Tells the cluster at once that this node's free capacity changed."""
        if self.registry is not None:
            try:
                await self.registry.announce()
            except RedisError as exc:
                log.warning("node %s: announce failed: %s", self.own_url, exc)

    async def _beat(self) -> None:
        assert self.registry is not None
        while True:
            try:
                await self.registry.announce()
                alive = set(await self.registry.nodes())
                lost = await end_sessions_of_lost_nodes(self.db, self.bus, alive)
                if self._on_beat is not None:
                    await self._on_beat(lost)
            except (RedisError, SQLAlchemyError, OSError) as exc:
                log.warning("node %s: heartbeat failed: %s", self.own_url, exc)
            await asyncio.sleep(self.settings.node_heartbeat_s)

    async def nodes(self) -> dict[str, NodeInfo]:
        assert self.registry is not None
        return await self.registry.nodes()

    async def route(
        self, request: web.Request, session: StreamSession, place: bool
    ) -> web.StreamResponse | None:
        """The answer of the node holding `session` when that is another node; None when
        this node answers. With `place`, a session held by no live node goes to the one with
        the most room (when that node has filled up meanwhile, the next one)."""
        nodes = await self.nodes()
        owner = session.node_url if session.status == StreamStatus.STREAMING else None
        retry_s = retry_after_s(nodes.values(), self.settings.publisher_grace_s)
        if owner is not None and owner in nodes:
            targets = [owner]
        elif place:
            targets = placement_order(nodes.values(), self.own_url)
            if not targets:
                limit = cluster_capacity(nodes.values())
                raise ApiError(
                    f"the servers are analysing {limit} live streams, their most: "
                    f"try again in {retry_s} s",
                    detail={"retry_after_s": retry_s},
                    status=503,
                    retry_after_s=retry_s,
                )
        else:
            return None
        # A node that stopped answering is gone once its entry expires: ask again by then.
        unreachable_retry_s = math.ceil(self.registry.expiry_s) if self.registry else retry_s
        for i, url in enumerate(targets):
            if url == self.own_url:
                return None
            last = i == len(targets) - 1
            try:
                response = await proxy.forward(
                    self.http, request, url, self.key, unreachable_retry_s
                )
            except proxy.NodeUnreachable:
                if last or not place:
                    raise
                continue
            if last or not (place and response.status == 503):  # full meanwhile: the next one
                return response
        return None
