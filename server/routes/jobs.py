"""/jobs: the user's analysis jobs, their reports and output files."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from sqlmodel import col, select

from server.context import (
    CLEANER,
    DB,
    JOBS,
    SETTINGS,
    STORAGE,
    absolute_url,
    current_user,
    json_body,
)
from server.errors import BadRequest, Conflict, NotFound
from server.jobs import OUTPUTS, remaining_seconds
from server.models import Job, JobStatus, User, iso, utcnow
from server.shot_csv import csv_filename, shots_csv
from server.uploads import parse_court
from storage import attachment_disposition

routes = web.RouteTableDef()


async def job_json(request: web.Request, job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "status": job.status,
        "progress": round(job.progress, 4),
        "remaining_s": _rounded(remaining_seconds(job)),
        "error": job.error,
        "filename": job.filename,
        "size": job.size,
        "court": job.court,
        "storage_type": job.storage_type,
        "created_at": iso(job.created_at),
        "updated_at": iso(job.updated_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "summary": job.summary,
        "outputs": await output_urls(request, job) if job.status == JobStatus.DONE else None,
    }


async def video_urls(request: web.Request, job: Job) -> dict[str, str]:
    """Signed URLs of the video as uploaded: to watch (`video`) and to save (`video_download`)."""
    storage, ttl = request.app[STORAGE], request.app[SETTINGS].download_url_ttl_s
    download = await storage.download_url(job.s3_video_key, ttl, filename=job.filename)
    return {
        "video": absolute_url(request, await storage.download_url(job.s3_video_key, ttl)),
        "video_download": absolute_url(request, download),
    }


def _rounded(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds)


async def output_urls(request: web.Request, job: Job) -> dict[str, str]:
    """Signed, expiring URLs of the job's files, usable without the bearer token: `video` is
    the original as uploaded (`video_download` saves it under its name), `playable_video`
    its H.264 copy when browsers cannot play it."""
    storage, ttl = request.app[STORAGE], request.app[SETTINGS].download_url_ttl_s
    urls = {}
    for name, (filename, _) in OUTPUTS.items():
        url = await storage.download_url(f"{job.s3_output_prefix}/{filename}", ttl)
        urls[name] = absolute_url(request, url)
    urls.update(await video_urls(request, job))
    if job.playable_video_key:
        url = await storage.download_url(job.playable_video_key, ttl)
        urls["playable_video"] = absolute_url(request, url)
    return urls


async def owned_job(request: web.Request, user: User) -> Job:
    async with request.app[DB].session() as session:
        job = await session.get(Job, request.match_info["job_id"])
    # Someone else's job is as absent as a job that never was.
    if job is None or job.owner_id != user.id:
        raise NotFound("no such job")
    return job


@routes.get("/api/v1/jobs")
async def list_jobs(request: web.Request) -> web.Response:
    user = await current_user(request)
    async with request.app[DB].session() as session:
        jobs = (
            await session.exec(
                select(Job).where(Job.owner_id == user.id).order_by(col(Job.created_at).desc())
            )
        ).all()
    return web.json_response({"jobs": [await job_json(request, job) for job in jobs]})


@routes.get("/api/v1/jobs/{job_id}")
async def get_job(request: web.Request) -> web.Response:
    job = await owned_job(request, await current_user(request))
    return web.json_response(await job_json(request, job))


@routes.get("/api/v1/jobs/{job_id}/report")
async def get_report(request: web.Request) -> web.Response:
    job = await owned_job(request, await current_user(request))
    if job.status != JobStatus.DONE:
        raise Conflict(f"the report is not ready (status {job.status})")
    data = await request.app[STORAGE].get_bytes(f"{job.s3_output_prefix}/report.json")
    return web.json_response(json.loads(data))


@routes.get("/api/v1/jobs/{job_id}/outputs")
async def get_outputs(request: web.Request) -> web.Response:
    """Signed URLs of the outputs; a job whose analysis failed has its video's alone, so that
    its court can be marked on it and the video analysed again."""
    job = await owned_job(request, await current_user(request))
    if job.status == JobStatus.FAILED and job.started_at is not None:
        return web.json_response(await video_urls(request, job))
    if job.status != JobStatus.DONE:
        raise Conflict(f"the outputs are not ready (status {job.status})")
    return web.json_response(await output_urls(request, job))


@routes.post("/api/v1/jobs/{job_id}/court")
async def set_court(request: web.Request) -> web.Response:
    """Corrects the court of a finished (or failed) job and analyses the video again."""
    job = await owned_job(request, await current_user(request))
    court = parse_court((await json_body(request)).get("court"))
    if court is None:
        raise BadRequest("court is required: the 4 corners")
    if job.status not in (JobStatus.DONE, JobStatus.FAILED):
        raise Conflict(f"the court can be changed once the job has finished (status {job.status})")
    if not await request.app[STORAGE].exists(job.s3_video_key):
        raise Conflict("the video of this job is not in storage (the upload never finished)")
    async with request.app[DB].session() as session:
        stored = await session.get(Job, job.id)
        if stored is None:
            raise NotFound("no such job")
        stored.court, stored.status, stored.progress = court, JobStatus.QUEUED, 0.0
        stored.error = stored.summary = stored.started_at = stored.finished_at = None
        stored.updated_at = utcnow()
        session.add(stored)
        await session.commit()
    await request.app[JOBS].enqueue(stored.id)
    return web.json_response(await job_json(request, stored), status=202)


@routes.delete("/api/v1/jobs/{job_id}")
async def delete_job(request: web.Request) -> web.Response:
    """204 once the job and its files are gone; 202 when storage is unreachable: the job is
    gone and its files are removed in the background as soon as storage answers."""
    job = await owned_job(request, await current_user(request))
    await request.app[JOBS].cancel(job.id)
    if await request.app[CLEANER].delete_job(job.id):
        return web.Response(status=204)
    return web.json_response(
        {"id": job.id, "deleted": True, "files": "storage is unreachable: removed later"},
        status=202,
    )


async def done_report(request: web.Request, job: Job) -> dict[str, Any]:
    """The report of a finished job (409 before)."""
    if job.status != JobStatus.DONE:
        raise Conflict(f"the report is not ready (status {job.status})")
    return json.loads(await request.app[STORAGE].get_bytes(f"{job.s3_output_prefix}/report.json"))


def csv_response(report: dict[str, Any], title: str) -> web.Response:
    return web.Response(
        text=shots_csv(report),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": attachment_disposition(csv_filename(title))},
    )


@routes.get("/api/v1/jobs/{job_id}/shots.csv")
async def get_shots_csv(request: web.Request) -> web.Response:
    """The shot list as CSV (time, rally, player, type, confidence, court x and y)."""
    job = await owned_job(request, await current_user(request))
    return csv_response(await done_report(request, job), job.filename)
