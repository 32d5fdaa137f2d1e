"""/court/detect: finds the court on one picture (a frame of a video or of the camera)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from server.context import SETTINGS, current_user
from server.court_images import detect_in_image
from server.errors import ApiError, PayloadTooLarge

routes = web.RouteTableDef()

NO_COURT_HINT = "mark the four corners by hand"


class NoCourt(ApiError):
    status = 422


@routes.post("/api/v1/court/detect")
async def detect(request: web.Request) -> web.Response:
    """Body: the picture (image/jpeg or image/png) -> `{"court", "confidence", "frame_size"}`,
    or 422 when no court is in it."""
    await current_user(request)
    data = await _read_limited(request, request.app[SETTINGS].court_image_max_bytes)
    # Decoding and the detector take up to a second of CPU: never on the event loop.
    found, size = await asyncio.to_thread(detect_in_image, data, request.content_type)
    if not found.found:
        raise NoCourt(
            found.reason or "no badminton court found",
            detail={"hint": NO_COURT_HINT, "confidence": round(found.confidence, 3)},
        )
    return web.json_response(
        {
            "court": found.as_dict(),
            "confidence": round(found.confidence, 3),
            "frame_size": list(size),
        }
    )


async def _read_limited(request: web.Request, limit: int) -> bytes:
    """The body, refused with 413 past `limit` bytes (whatever the announced length)."""
    too_large = PayloadTooLarge(f"the picture is larger than the {limit // 2**20} MB limit")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)
