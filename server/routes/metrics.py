"""/metrics: the Prometheus text format, behind a bearer token (METRICS_TOKEN; unset, the
endpoint is off). It shows counts and timings of this node and the job states of the whole
database, nothing of any one user."""

from __future__ import annotations

import hmac
import time
from datetime import UTC

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlmodel import col, func, select

from server import metrics
from server.context import DB, DRAIN, SETTINGS, STREAMS
from server.errors import NotFound, Unauthorized
from server.models import Job, JobStatus, utcnow

routes = web.RouteTableDef()

STATES = (
    JobStatus.UPLOADING,
    JobStatus.QUEUED,
    JobStatus.RUNNING,
    JobStatus.DONE,
    JobStatus.FAILED,
)


@web.middleware
async def count_requests(request: web.Request, handler) -> web.StreamResponse:
    """Counts and times every request under its route's pattern (`/api/v1/jobs/{job_id}`),
    never its path: ids and tokens would make a series per user."""
    started = time.monotonic()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        metrics.HTTP_REQUESTS.labels(request.method, route, str(status)).inc()
        metrics.HTTP_LATENCY.labels(request.method, route).observe(time.monotonic() - started)


@routes.get("/metrics")
async def scrape(request: web.Request) -> web.Response:
    token = request.app[SETTINGS].metrics_token
    if token is None:
        raise NotFound("metrics are off: set METRICS_TOKEN to turn them on")
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip(), token):
        raise Unauthorized("send 'Authorization: Bearer <METRICS_TOKEN>'")
    await _job_gauges(request.app)
    _live_gauges(request.app)
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _job_gauges(app: web.Application) -> None:
    """Job states from the database, so that every node tells the cluster's truth."""
    async with app[DB].session() as session:
        counts = dict(
            (await session.exec(select(Job.status, func.count()).group_by(col(Job.status)))).all()
        )
        oldest = (
            await session.exec(
                select(func.min(Job.updated_at)).where(Job.status == JobStatus.QUEUED)
            )
        ).one()
    for state in STATES:
        metrics.JOBS.labels(state).set(counts.get(state, 0))
    metrics.QUEUE_DEPTH.set(counts.get(JobStatus.QUEUED, 0))
    if oldest is None:
        metrics.QUEUE_OLDEST.set(0)
    else:
        if oldest.tzinfo is None:  # SQLite gives back naive UTC
            oldest = oldest.replace(tzinfo=UTC)
        metrics.QUEUE_OLDEST.set(max(0.0, (utcnow() - oldest).total_seconds()))


def _live_gauges(app: web.Application) -> None:
    if STREAMS not in app:  # a job worker: no live sessions
        return
    streams, settings = app[STREAMS], app[SETTINGS]
    metrics.LIVE_SESSIONS.set(len(streams.live))
    metrics.LIVE_LIMIT.set(settings.live_session_limit)
    poses = sum(2 * live.analysis.pose_fps for live in streams.live.values())
    metrics.POSE_BUDGET_USE.set(poses / settings.live_pose_budget)
    metrics.DRAINING.set(1 if app[DRAIN].active else 0)
