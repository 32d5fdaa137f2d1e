"""Share links to finished reports: `jobs/{id}/shares` and `stream/{id}/shares` for the owner
to make, list and revoke them; `shared/...?token=` for anyone holding one (read-only, no
account). The token travels in the query string, which the access log leaves out, and in the
page's #fragment, which browsers never send."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from server.context import DB, SHARES, STREAMS, absolute_url, current_user, json_body
from server.errors import BadRequest, NotFound
from server.models import Job, ReportKind, ReportShare, StreamSession, User, iso
from server.routes.jobs import csv_response, done_report, output_urls, owned_job
from server.routes.streams import outputs_json
from server.shares import share_json

routes = web.RouteTableDef()
SHARED_PAGE = "/static/shared.html"


@dataclass(frozen=True)
class SharedReport:
    title: str
    report: dict[str, Any]
    # Signed URLs of the report's files: heatmaps, JSON, and the video of an upload or the
    # recordings of a live session (each with its offset in the session's time).
    outputs: dict[str, Any]


@dataclass(frozen=True)
class OwnedReport:
    """A report the caller owns, named as a share names it."""

    kind: str
    id: str
    finished: Callable[[], Awaitable[Any]]  # raises 409 until the report exists


def link_json(request: web.Request, share: ReportShare) -> dict[str, Any]:
    token = request.app[SHARES].token(share)
    return share_json(share, token, absolute_url(request, f"{SHARED_PAGE}#{token}"))


async def owned_job_report(request: web.Request, user: User) -> OwnedReport:
    job = await owned_job(request, user)
    return OwnedReport(ReportKind.JOB, job.id, lambda: done_report(request, job))


async def owned_live_report(request: web.Request, user: User) -> OwnedReport:
    streams = request.app[STREAMS]
    session = await streams.owned(user, request.match_info["session_id"])
    return OwnedReport(ReportKind.LIVE, session.id, lambda: streams.final_report(session))


Owner = Callable[[web.Request, User], Awaitable[OwnedReport]]


async def create_share(request: web.Request, owned: Owner) -> web.Response:
    user = await current_user(request)
    report = await owned(request, user)
    shares = request.app[SHARES]
    ttl = shares.ttl(await json_body(request))
    await report.finished()  # only a finished report can be shared
    share = await shares.create(user, report.kind, report.id, ttl)
    return web.json_response(link_json(request, share), status=201)


async def list_shares(request: web.Request, owned: Owner) -> web.Response:
    report = await owned(request, await current_user(request))
    usable = await request.app[SHARES].usable(report.kind, report.id)
    return web.json_response({"shares": [link_json(request, share) for share in usable]})


async def revoke_share(request: web.Request, owned: Owner) -> web.Response:
    user = await current_user(request)
    report = await owned(request, user)
    share_id = request.match_info["share_id"]
    await request.app[SHARES].revoke(user, report.kind, report.id, share_id)
    return web.Response(status=204)


@routes.post("/api/v1/jobs/{job_id}/shares")
async def create_job_share(request: web.Request) -> web.Response:
    return await create_share(request, owned_job_report)


@routes.get("/api/v1/jobs/{job_id}/shares")
async def list_job_shares(request: web.Request) -> web.Response:
    return await list_shares(request, owned_job_report)


@routes.delete("/api/v1/jobs/{job_id}/shares/{share_id}")
async def revoke_job_share(request: web.Request) -> web.Response:
    return await revoke_share(request, owned_job_report)


@routes.post("/api/v1/stream/{session_id}/shares")
async def create_live_share(request: web.Request) -> web.Response:
    return await create_share(request, owned_live_report)


@routes.get("/api/v1/stream/{session_id}/shares")
async def list_live_shares(request: web.Request) -> web.Response:
    return await list_shares(request, owned_live_report)


@routes.delete("/api/v1/stream/{session_id}/shares/{share_id}")
async def revoke_live_share(request: web.Request) -> web.Response:
    return await revoke_share(request, owned_live_report)


async def shared_job(request: web.Request, job_id: str) -> SharedReport:
    async with request.app[DB].session() as session:
        job = await session.get(Job, job_id)
    if job is None:
        raise NotFound("this report no longer exists")
    report = await done_report(request, job)
    return SharedReport(job.filename, report, await output_urls(request, job))


async def shared_live(request: web.Request, session_id: str) -> SharedReport:
    async with request.app[DB].session() as db:
        session = await db.get(StreamSession, session_id)
    if session is None:
        raise NotFound("this report no longer exists")
    report = await request.app[STREAMS].final_report(session)
    outputs = await outputs_json(request, session)
    return SharedReport(session.name or "Live session", report, outputs)


# How each kind of report is read for a share link.
READERS: dict[str, Callable[[web.Request, str], Awaitable[SharedReport]]] = {
    ReportKind.JOB: shared_job,
    ReportKind.LIVE: shared_live,
}


async def opened(request: web.Request) -> tuple[ReportShare, SharedReport]:
    token = request.query.get("token", "")
    if not token:
        raise BadRequest("token is required: the share link's token")
    share = await request.app[SHARES].open(token)
    reader = READERS.get(share.report_kind)
    if reader is None:
        raise NotFound("this report no longer exists")
    return share, await reader(request, share.report_id)


@routes.get("/api/v1/shared/report")
async def get_shared_report(request: web.Request) -> web.Response:
    share, shared = await opened(request)
    return web.json_response(
        {
            "kind": share.report_kind,
            "title": shared.title,
            "expires_at": iso(share.expires_at),
            "report": shared.report,
            "outputs": shared.outputs,
        }
    )


@routes.get("/api/v1/shared/shots.csv")
async def get_shared_shots_csv(request: web.Request) -> web.Response:
    _, shared = await opened(request)
    return csv_response(shared.report, shared.title)
