"""The local store's signed URLs (default mode without S3): the same presigned PUT, multipart
part and GET flow a bucket offers, checked against the URL's HMAC signature and expiry."""

from __future__ import annotations

from aiohttp import web

from server.context import SETTINGS, STORAGE
from server.errors import ApiError
from storage import LocalStorage, SignatureError, TooLarge, attachment_disposition

routes = web.RouteTableDef()
CHUNK = 1024 * 1024


def local_storage(request: web.Request) -> LocalStorage:
    storage = request.app[STORAGE]
    if not isinstance(storage, LocalStorage):
        raise web.HTTPNotFound()
    return storage


def verified(request: web.Request, op: str) -> dict[str, str]:
    storage = local_storage(request)
    try:
        return storage.verify(op, request.match_info["key"], request.query)
    except SignatureError as exc:
        raise ApiError(str(exc), status=403) from exc


def signed_length(request: web.Request, signed: dict[str, str]) -> int | None:
    """The body length the URL was issued for; a longer announced body is refused unread."""
    if "len" not in signed:
        return None
    size = int(signed["len"])
    if request.content_length is not None and request.content_length > size:
        raise TooLarge(f"the body is longer than the {size} bytes of this URL")
    return size


@routes.put("/api/v1/files/{key:.+}")
async def put_file(request: web.Request) -> web.Response:
    storage = local_storage(request)
    key = request.match_info["key"]
    limit = request.app[SETTINGS].max_upload_bytes
    chunks = request.content.iter_chunked(CHUNK)
    if request.query.get("op") == "part":
        signed = verified(request, "part")
        size = signed_length(request, signed)
        etag = await storage.write_part(
            key, signed["upload"], int(signed["part"]), chunks, max_bytes=limit, size=size
        )
        return web.Response(status=200, headers={"ETag": etag})
    signed = verified(request, "put")
    content_type = request.headers.get("Content-Type", "")
    if content_type != signed["ct"]:
        raise ApiError(
            f"Content-Type must be {signed['ct']!r} as requested, got {content_type!r}", status=403
        )
    size = signed_length(request, signed)
    info = await storage.write_signed_put(key, chunks, content_type, max_bytes=limit, size=size)
    return web.Response(status=200, headers={"ETag": info.etag or ""})


@routes.get("/api/v1/files/{key:.+}")
async def get_file(request: web.Request) -> web.StreamResponse:
    storage = local_storage(request)
    signed = verified(request, "get")
    path, info = await storage.open_for_read(request.match_info["key"])
    headers = {"Cache-Control": "private, max-age=300"}
    if signed.get("filename"):
        headers["Content-Disposition"] = attachment_disposition(signed["filename"])
    response = web.FileResponse(path, headers=headers)
    if info.content_type:
        response.content_type = info.content_type
    return response
