"""A minimal aiohttp app serving LocalStorage's signed URLs, the way the server wires them."""

from __future__ import annotations

from aiohttp import web

from storage import (
    InvalidKey,
    InvalidUpload,
    LocalStorage,
    ObjectNotFound,
    SignatureError,
    TooLarge,
    UploadClosed,
    attachment_disposition,
)

STATUS = {
    SignatureError: 403,
    InvalidKey: 400,
    InvalidUpload: 400,
    TooLarge: 413,
    ObjectNotFound: 404,
    UploadClosed: 409,
}


def create_file_app(storage: LocalStorage, max_bytes: int = 64 * 1024 * 1024) -> web.Application:
    """PUT and GET on `{url_prefix}/{key}` answer presigned PUT, part and GET URLs."""

    @web.middleware
    async def errors(request: web.Request, handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except tuple(STATUS) as exc:
            return web.Response(status=STATUS[type(exc)], text=str(exc))

    async def put(request: web.Request) -> web.Response:
        key = request.match_info["key"]
        chunks = request.content.iter_chunked(64 * 1024)
        if request.query.get("op") == "part":
            signed = storage.verify("part", key, request.query)
            size = int(signed["len"]) if "len" in signed else None
            etag = await storage.write_part(
                key, signed["upload"], int(signed["part"]), chunks, max_bytes, size
            )
            return web.Response(headers={"ETag": etag})
        signed = storage.verify("put", key, request.query)
        if request.headers.get("Content-Type") != signed["ct"]:
            raise SignatureError("Content-Type differs from the signed one")
        size = int(signed["len"]) if "len" in signed else None
        info = await storage.write_signed_put(key, chunks, signed["ct"], max_bytes, size)
        return web.Response(headers={"ETag": info.etag or ""})

    async def get(request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        signed = storage.verify("get", key, request.query)
        path, info = await storage.open_for_read(key)
        headers = {"ETag": info.etag or "", "Content-Type": info.content_type or ""}
        if "filename" in signed:
            headers["Content-Disposition"] = attachment_disposition(signed["filename"])
        return web.FileResponse(path, headers=headers)

    app = web.Application(middlewares=[errors])
    app.router.add_put(storage.url_prefix + "/{key:.+}", put)
    app.router.add_get(storage.url_prefix + "/{key:.+}", get)
    return app
