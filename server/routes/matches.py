"""/matches: every match of the account in one list, uploaded or streamed live, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web
from sqlmodel import col, select

from server.context import DB, STREAMS, current_user
from server.jobs import remaining_seconds
from server.models import Job, JobStatus, StreamSession, StreamStatus, iso
from server.streams import Streams

routes = web.RouteTableDef()


def upload_match(job: Job) -> dict[str, Any]:
    summary = job.summary or {}
    return {
        "kind": "upload",
        "id": job.id,
        "name": job.filename,
        "status": job.status,
        "progress": round(job.progress, 4),
        "remaining_s": None if (left := remaining_seconds(job)) is None else round(left),
        "size": job.size,
        "error": job.error,
        "created_at": iso(job.created_at),
        "report_ready": job.status == JobStatus.DONE,
        "total_shots": summary.get("total_shots"),
        "rallies": summary.get("rallies"),
    }


def live_match(streams: Streams, session: StreamSession) -> dict[str, Any]:
    live = streams.live.get(session.id)
    ended = session.status == StreamStatus.ENDED
    return {
        "kind": "live",
        "id": session.id,
        "name": session.name,
        "status": session.status,
        "progress": None,
        "remaining_s": None,
        "size": None,
        "error": session.error,
        "created_at": iso(session.created_at),
        "report_ready": ended and session.report_key is not None,
        "total_shots": live.total_shots if live else session.total_shots,
        "rallies": session.total_rallies if ended else None,
        "recordings": len(session.recordings),
    }


@routes.get("/api/v1/matches")
async def list_matches(request: web.Request) -> web.Response:
    user = await current_user(request)
    streams = request.app[STREAMS]
    async with request.app[DB].session() as db:
        query = select(Job).where(Job.owner_id == user.id).order_by(col(Job.created_at).desc())
        jobs = (await db.exec(query)).all()
    sessions = await streams.list(user)
    dated: list[tuple[datetime, dict[str, Any]]] = [
        *((job.created_at, upload_match(job)) for job in jobs),
        *((session.created_at, live_match(streams, session)) for session in sessions),
    ]
    dated.sort(key=lambda pair: pair[0], reverse=True)
    return web.json_response({"matches": [match for _, match in dated]})
