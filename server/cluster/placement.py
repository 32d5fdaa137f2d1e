"""Where a live session goes: a node with room, the emptiest first."""

from __future__ import annotations

import math
from collections.abc import Iterable

from server.cluster.nodes import NodeInfo


def placement_order(nodes: Iterable[NodeInfo], own_url: str) -> list[str]:
    """The nodes with a free slot, most free first; among equals this node first (no hop)."""
    room = [node for node in nodes if node.free > 0]
    room.sort(key=lambda node: (-node.free, node.url != own_url, node.url))
    return [node.url for node in room]


def cluster_capacity(nodes: Iterable[NodeInfo]) -> int:
    return sum(node.capacity for node in nodes)


def retry_after_s(nodes: Iterable[NodeInfo], default_s: float) -> int:
    """When a full cluster has a slot again: the soonest any node expects one."""
    return max(1, min((node.retry_after_s for node in nodes), default=math.ceil(default_s)))
