"""/upload: presigned single and multipart uploads, and their confirmation."""

from __future__ import annotations

from aiohttp import web

from server.context import SETTINGS, UPLOADS, absolute_url, current_user, json_body
from server.routes.jobs import job_json
from server.uploads import UploadSpec

routes = web.RouteTableDef()


@routes.post("/api/v1/upload/request")
async def request_upload(request: web.Request) -> web.Response:
    user = await current_user(request)
    settings = request.app[SETTINGS]
    spec = UploadSpec.parse(await json_body(request), settings)
    job, url = await request.app[UPLOADS].request_single(user, spec)
    return web.json_response(
        {
            "upload_url": absolute_url(request, url),
            "method": "PUT",
            "headers": {"Content-Type": spec.content_type},
            "file_key": job.s3_video_key,
            "job_id": job.id,
            "expires_in": settings.upload_url_ttl_s,
        },
        status=201,
    )


@routes.post("/api/v1/upload/multipart/init")
async def init_multipart(request: web.Request) -> web.Response:
    user = await current_user(request)
    settings = request.app[SETTINGS]
    spec = UploadSpec.parse(await json_body(request), settings)
    job, upload_id, part_size, parts = await request.app[UPLOADS].init_multipart(user, spec)
    return web.json_response(
        {
            "job_id": job.id,
            "file_key": job.s3_video_key,
            "upload_id": upload_id,
            "part_size": part_size,
            "parts": [
                {"part_number": p.part_number, "url": absolute_url(request, p.url)} for p in parts
            ],
            "expires_in": settings.upload_url_ttl_s,
        },
        status=201,
    )


@routes.post("/api/v1/upload/multipart/complete")
async def complete_multipart(request: web.Request) -> web.Response:
    user = await current_user(request)
    body = await json_body(request)
    job = await request.app[UPLOADS].complete_multipart(
        user, str(body.get("job_id", "")), body.get("parts")
    )
    return web.json_response({"job_id": job.id, "file_key": job.s3_video_key})


@routes.post("/api/v1/upload/multipart/abort")
async def abort_multipart(request: web.Request) -> web.Response:
    user = await current_user(request)
    body = await json_body(request)
    await request.app[UPLOADS].abort_multipart(user, str(body.get("job_id", "")))
    return web.Response(status=204)


@routes.post("/api/v1/upload/confirm/{job_id}")
async def confirm(request: web.Request) -> web.Response:
    user = await current_user(request)
    body = await json_body(request)
    job = await request.app[UPLOADS].confirm(user, request.match_info["job_id"], body.get("court"))
    return web.json_response(await job_json(request, job), status=202)
