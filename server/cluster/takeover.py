"""The sessions of a lost node: marked ended with the reason, with an open gap from the last
moment the node was heard of, so that the phone's reconnect continues them on a live node."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import update
from sqlmodel import col, select

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
    async with db.session() as s:
        result = await s.exec(
            update(StreamSession)
            .where(
                col(StreamSession.id) == session.id,
                col(StreamSession.status) == StreamStatus.STREAMING,
                col(StreamSession.node_url) == session.node_url,
            )
            .values(
                status=StreamStatus.ENDED,
                ended_at=utcnow(),
                error=NODE_LOST,
                gaps=[*(session.gaps or []), gap],
            )
        )
        await s.commit()
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await bus.forget_status(session.id)
    log.warning(
        "stream %s: %s (%s); ended until its phone reconnects",
        session.id,
        NODE_LOST,
        session.node_url,
    )
    return True
