"""Live results on Redis: the node analysing a session publishes its data-channel messages
(pub/sub, channel `badminton:live:<session>`) and keeps its latest status under a key, so
that every node answers `status` with the same numbers.

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
QUEUE_SIZE = 1000


def channel(session_id: str) -> str:
    return CHANNEL_PREFIX + session_id


class LiveBus:
    def __init__(self, redis: Redis, status_ttl_s: float) -> None:
        self.redis = redis
        self.status_ttl_s = status_ttl_s  # a status nobody renews is gone with its node
        self._queue: asyncio.Queue[tuple[str, list[dict[str, Any]], dict[str, Any] | None]]
        self._queue = asyncio.Queue(QUEUE_SIZE)
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
            self._queue.put_nowait((session_id, messages, status))
            self._dropping = False
        except asyncio.QueueFull:
            if not self._dropping:
                log.warning("stream %s: Redis is not keeping up; live updates dropped", session_id)
            self._dropping = True

    async def status(self, session_id: str) -> dict[str, Any] | None:
        """The latest status the session's node published (None: none, or its node is gone)."""
        value = await self.redis.get(STATUS_PREFIX + session_id)
        return None if value is None else json.loads(value)

    async def forget(self, session_id: str) -> None:
        await self.redis.delete(STATUS_PREFIX + session_id)

    async def _send(self) -> None:
        while True:
            session_id, messages, status = await self._queue.get()
            try:
                if messages:
                    await self.redis.publish(channel(session_id), json.dumps(messages))
                if status is not None:
                    published = {**status, "published_at": time.time()}
                    await self.redis.set(
                        STATUS_PREFIX + session_id,
                        json.dumps(published),
                        px=int(self.status_ttl_s * 1000),
                    )
            except RedisError as exc:
                log.warning("stream %s: live update not published: %s", session_id, exc)
