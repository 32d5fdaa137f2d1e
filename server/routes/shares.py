"""Share links to finished reports: `jobs/{id}/shares` for the owner to make, list and revoke
them; `shared/...?token=` for anyone holding one (read-only, no account). The token travels
in the query string, which the access log leaves out, and in the page's #fragment, which
browsers never send."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from server.context import DB, SHARES, absolute_url, current_user, json_body
from server.errors import BadRequest, NotFound
from server.models import Job, ReportKind, ReportShare, iso
from server.routes.jobs import csv_response, done_report, output_urls, owned_job
from server.shares import share_json

routes = web.RouteTableDef()
SHARED_PAGE = "/static/shared.html"


@dataclass(frozen=True)
class SharedReport:
    title: str
    report: dict[str, Any]
    outputs: dict[str, str]  # signed URLs of the report's files: video, heatmaps, JSON


def link_json(request: web.Request, share: ReportShare) -> dict[str, Any]:
    token = request.app[SHARES].token(share)
    return share_json(share, token, absolute_url(request, f"{SHARED_PAGE}#{token}"))


@routes.post("/api/v1/jobs/{job_id}/shares")
async def create_job_share(request: web.Request) -> web.Response:
    user = await current_user(request)
    job = await owned_job(request, user)
    shares = request.app[SHARES]
    ttl = shares.ttl(await json_body(request))
    await done_report(request, job)  # only a finished report can be shared
    share = await shares.create(user, ReportKind.JOB, job.id, ttl)
    return web.json_response(link_json(request, share), status=201)


@routes.get("/api/v1/jobs/{job_id}/shares")
async def list_job_shares(request: web.Request) -> web.Response:
    job = await owned_job(request, await current_user(request))
    usable = await request.app[SHARES].usable(ReportKind.JOB, job.id)
    return web.json_response({"shares": [link_json(request, share) for share in usable]})


@routes.delete("/api/v1/jobs/{job_id}/shares/{share_id}")
async def revoke_job_share(request: web.Request) -> web.Response:
    user = await current_user(request)
    job = await owned_job(request, user)
    await request.app[SHARES].revoke(user, ReportKind.JOB, job.id, request.match_info["share_id"])
    return web.Response(status=204)


async def shared_job(request: web.Request, job_id: str) -> SharedReport:
    async with request.app[DB].session() as session:
        job = await session.get(Job, job_id)
    if job is None:
        raise NotFound("this report no longer exists")
    report = await done_report(request, job)
    return SharedReport(job.filename, report, await output_urls(request, job))


# How each kind of report is read for a share link.
READERS: dict[str, Callable[[web.Request, str], Awaitable[SharedReport]]] = {
    ReportKind.JOB: shared_job,
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
