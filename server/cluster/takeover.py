"""The sessions of a lost node: marked ended with the reason, with an open gap from the last
moment the node was heard of, so that the phone's reconnect continues them on a live node."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from server.cluster.continuation import Continuation, Earlier
from server.cluster.live_bus import LiveBus
from server.db import Database
from server.models import StreamSession, StreamStatus, iso, utcnow

log = logging.getLogger(__name__)

NODE_LOST = "the server holding this session stopped"


def continuable(session: StreamSession) -> bool:
    """Ended only because its node was lost, and its phone has not come back yet."""
    gaps = session.gaps or []
    return session.status == StreamStatus.ENDED and bool(gaps) and gaps[-1]["to"] is None


async def last_heard(bus: LiveBus, session: StreamSession) -> datetime:
    """When the session's node last published its status (now, when nothing is known)."""
    status = await bus.status(session.id)
    if status is None or "published_at" not in status:
        return utcnow()
    return datetime.fromtimestamp(status["published_at"], UTC)


async def end_sessions_of_lost_nodes(db: Database, bus: LiveBus, alive: set[str]) -> list[str]:
    """Marks the streaming sessions of every node not in `alive` ended; their ids."""
    async with db.session() as s:
        query = select(StreamSession).where(
            StreamSession.status == StreamStatus.STREAMING,
            col(StreamSession.node_url).is_not(None),
            col(StreamSession.node_url).not_in(alive),
        )
        orphans = list((await s.exec(query)).all())
    ended = []
    for session in orphans:
        if await mark_lost(db, bus, session):
            ended.append(session.id)
    return ended


async def mark_lost(db: Database, bus: LiveBus, session: StreamSession) -> bool:
    """Ends one session of a lost node (unless another node did it, or it moved meanwhile)."""
    gap = {"from": iso(await last_heard(bus, session)), "to": None}
    fields = {
        "status": StreamStatus.ENDED,
        "ended_at": utcnow(),
        "error": NODE_LOST,
        "gaps": [*(session.gaps or []), gap],
    }
    if not await claim(db, session, fields):
        return False
    await bus.forget_status(session.id)
    log.warning(
        "stream %s: %s (%s); ended until its phone reconnects",
        session.id,
        NODE_LOST,
        session.node_url,
    )
    return True


async def claim(db: Database, session: StreamSession, fields: dict[str, Any]) -> bool:
    """Sets `fields` on the session unless another node changed its status or node since it
    was read (two starts, or two reconnects, through two nodes at once)."""
    same_node = (
        col(StreamSession.node_url).is_(None)
        if session.node_url is None
        else col(StreamSession.node_url) == session.node_url
    )
    async with db.session() as s:
        result = await s.exec(
            update(StreamSession)
            .where(
                col(StreamSession.id) == session.id,
                col(StreamSession.status) == session.status,
                same_node,
            )
            .values(**fields)
        )
        await s.commit()
    return result.rowcount == 1  # type: ignore[attr-defined]


async def streaming_sessions(db: Database, owner_id: str, besides: str) -> list[str]:
    """The owner's sessions streaming on any node, but `besides`."""
    async with db.session() as s:
        query = select(StreamSession.id).where(
            StreamSession.owner_id == owner_id,
            StreamSession.status == StreamStatus.STREAMING,
            StreamSession.id != besides,
        )
        return list((await s.exec(query)).all())


async def gaps_closed_now(bus: LiveBus, session: StreamSession) -> list[dict[str, str | None]]:
    """The session's gaps, the one its lost node left ending now."""
    gaps, now = list(session.gaps or []), iso(utcnow())
    if gaps and gaps[-1]["to"] is None:
        gaps[-1] = {**gaps[-1], "to": now}
    else:  # lost so recently that no node marked it yet
        gaps.append({"from": iso(await last_heard(bus, session)), "to": now})
    return gaps


async def continuation(
    bus: LiveBus, session: StreamSession, gap: dict[str, str | None], fps: float
) -> Continuation:
    """How a new part of the session follows the results its lost node published."""
    assert session.court is not None and session.frame_size is not None
    earlier = Earlier.from_messages(await bus.results(session.id))
    return Continuation(earlier, gap, fps, session.court, session.frame_size)
