"""Live results on Redis: the node analysing a session publishes its data-channel messages
(pub/sub, channel `badminton:live:<session>`) and keeps its latest status under a key, so
that every node answers `status` with the same numbers. It also keeps the session's results
in a list (positions thinned out), from which another node continues the session when this
one is lost.

Publishing never holds up the analysis: messages wait in a bounded queue for one sender
task, and are dropped (with a warning) rather than queued without end when Redis is slow."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "badminton:live:"
STATUS_PREFIX = "badminton:live-status:"
RESULTS_PREFIX = "badminton:live-results:"
RESULTS_KEPT_S = 24 * 3600  # after the last message: a session lost for longer is over
POSITION_EVERY_S = 0.5  # per player, in the kept results (heatmaps need no more)
QUEUE_SIZE = 1000


def channel(session_id: str) -> str:
    return CHANNEL_PREFIX + session_id


class LiveBus:
    def __init__(self, redis: Redis, status_ttl_s: float) -> None:
        self.redis = redis
        self.status_ttl_s = status_ttl_s  # a status nobody renews is gone with its node
        # (session, messages, its status or None, whether the session is over after them)
        self._queue: asyncio.Queue[tuple[str, list[dict[str, Any]], dict[str, Any] | None, bool]]
        self._queue = asyncio.Queue(QUEUE_SIZE)
        self._kept_position: dict[tuple[str, str], float] = {}  # (session, player) -> time
        self._sender: asyncio.Task[None] | None = None
        self._dropping = False

    def start(self) -> None:
        self._sender = asyncio.create_task(self._send(), name="live-bus")

    async def close(self) -> None:
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)

    def publish(
        self, session_id: str, messages: list[dict[str, Any]], status: dict[str, Any] | None
    ) -> None:
        """Queues a session's messages, and its status when it changed, for Redis."""
        try:
            self._queue.put_nowait((session_id, messages, status, False))
            self._dropping = False
        except asyncio.QueueFull:
            if not self._dropping:
                log.warning("stream %s: Redis is not keeping up; live updates dropped", session_id)
            self._dropping = True

    async def status(self, session_id: str) -> dict[str, Any] | None:
        """The latest status the session's node published (None: none, or its node is gone)."""
        value = await self.redis.get(STATUS_PREFIX + session_id)
        return None if value is None else json.loads(value)

    async def results(self, session_id: str) -> list[dict[str, Any]]:
        """The session's messages kept so far, oldest first."""
        return [
            json.loads(item) for item in await self.redis.lrange(RESULTS_PREFIX + session_id, 0, -1)
        ]

    async def forget_status(self, session_id: str) -> None:
        """Drops the status of a session whose node is gone; its results stay."""
        await self.redis.delete(STATUS_PREFIX + session_id)

    async def ended(self, session_id: str) -> None:
        """The session is over for good: after what is queued for it, its status and results
        go."""
        try:
            self._queue.put_nowait((session_id, [], None, True))
        except asyncio.QueueFull:
            await self._drop(session_id)

    async def _drop(self, session_id: str) -> None:
        for key in [k for k in self._kept_position if k[0] == session_id]:
            del self._kept_position[key]
        await self.redis.delete(STATUS_PREFIX + session_id, RESULTS_PREFIX + session_id)

    def _to_keep(self, session_id: str, messages: list[dict[str, Any]]) -> list[str]:
        kept = []
        for message in messages:
            kind = message["type"]
            if kind in ("live_status", "error", "session_ended"):
                continue
            if kind == "position_update":
                key, t = (session_id, str(message.get("player"))), message["timestamp"]
                if t < self._kept_position.get(key, float("-inf")) + POSITION_EVERY_S:
                    continue
                self._kept_position[key] = t
            kept.append(json.dumps(message))
        return kept

    async def _send(self) -> None:
        while True:
            session_id, messages, status, over = await self._queue.get()
            try:
                if over:
                    await self._drop(session_id)
                    continue
                if messages:
                    await self.redis.publish(channel(session_id), json.dumps(messages))
                    kept = self._to_keep(session_id, messages)
                    if kept:
                        key = RESULTS_PREFIX + session_id
                        await self.redis.rpush(key, *kept)
                        await self.redis.expire(key, RESULTS_KEPT_S)
                if status is not None:
                    published = {**status, "published_at": time.time()}
                    await self.redis.set(
                        STATUS_PREFIX + session_id,
                        json.dumps(published),
                        px=int(self.status_ttl_s * 1000),
                    )
            except RedisError as exc:
                log.warning("stream %s: live update not published: %s", session_id, exc)
