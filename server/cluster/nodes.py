"""The live nodes of a cluster: each announces itself in Redis (its URL and free live
capacity) with an expiry, renewed every heartbeat; a node whose entry expired is gone."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

from redis.asyncio import Redis

KEY_PREFIX = "badminton:node:"
MISSED_HEARTBEATS = 3  # a node is gone after this many heartbeats without news


@dataclass(frozen=True)
class NodeInfo:
    """What a node says about itself at each heartbeat."""

    url: str  # its NODE_URL, where the other nodes reach it
    capacity: int  # live sessions it may analyse at once
    free: int  # of which still free (0 while it stops)
    retry_after_s: int  # when one of its slots frees for sure, or a fair time to ask again


class NodeRegistry:
    def __init__(self, redis: Redis, heartbeat_s: float, state: Callable[[], NodeInfo]) -> None:
        self.redis = redis
        self.heartbeat_s = heartbeat_s
        self.state = state

    @property
    def expiry_s(self) -> float:
        return MISSED_HEARTBEATS * self.heartbeat_s

    async def announce(self) -> NodeInfo:
        """Writes this node's entry now (every heartbeat, and whenever its capacity changes)."""
        info = self.state()
        await self.redis.set(
            KEY_PREFIX + info.url, json.dumps(asdict(info)), px=int(self.expiry_s * 1000)
        )
        return info

    async def withdraw(self) -> None:
        await self.redis.delete(KEY_PREFIX + self.state().url)

    async def nodes(self) -> dict[str, NodeInfo]:
        """Every node alive now, by URL."""
        keys = [key async for key in self.redis.scan_iter(match=KEY_PREFIX + "*", count=500)]
        if not keys:
            return {}
        found = {}
        for value in await self.redis.mget(keys):
            if value is not None:  # expired between the scan and the read
                info = NodeInfo(**json.loads(value))
                found[info.url] = info
        return found
