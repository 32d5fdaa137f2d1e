"""POST /api/v1/court/detect: the court found on a picture a client sends, or a clear refusal."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from analysis.video import iter_frames

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def frame(clip) -> np.ndarray:
    """A frame of a labelled rally, a second in (players on court)."""
    return next(f.image for f in iter_frames(clip.video) if f.time >= 1.0)


async def post_picture(user, data: bytes, content_type: str):
    return await user.client.post(
        "/api/v1/court/detect",
        data=data,
        headers={**user.headers, "Content-Type": content_type},
    )


def encode(image: np.ndarray, ext: str) -> bytes:
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


@pytest.mark.parametrize("ext, content_type", [(".jpg", "image/jpeg"), (".png", "image/png")])
async def test_finds_the_labelled_corners(alice, clip, frame, ext, content_type):
    response = await post_picture(alice, encode(frame, ext), content_type)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["frame_size"] == [frame.shape[1], frame.shape[0]]
    assert 0.0 < body["confidence"] <= 1.0
    for name, (x, y) in clip.corners.items():
        found = body["court"][name]
        assert np.hypot(found[0] - x, found[1] - y) <= 10.0, (name, found, (x, y))


async def test_a_blank_picture_has_no_court(alice):
    blank = np.full((720, 1280, 3), 128, np.uint8)
    response = await post_picture(alice, encode(blank, ".jpg"), "image/jpeg")
    assert response.status == 422
    body = await response.json()
    assert body["error"].startswith("no badminton court found")
    assert "corners" in body["detail"]["hint"]


@pytest.mark.parametrize(
    "data, content_type, status, message",
    [
        (b"just some text", "text/plain", 415, "image/jpeg or image/png"),
        (b"\x89PNG\r\n\x1a\nnot really", "image/png", 400, "cannot be read"),
        (b"\xff\xd8\xff\xe0" + bytes(2000), "image/jpeg", 400, "cannot be read"),
    ],
)
async def test_refuses_what_is_not_a_picture(alice, data, content_type, status, message):
    response = await post_picture(alice, data, content_type)
    assert response.status == status
    assert message in (await response.json())["error"]


async def test_too_large_is_413(alice, settings):
    response = await post_picture(alice, bytes(settings.court_image_max_bytes + 1), "image/png")
    assert response.status == 413
    assert "limit" in (await response.json())["error"]


async def test_needs_an_account(client, frame):
    response = await client.post(
        "/api/v1/court/detect", data=encode(frame, ".jpg"), headers={"Content-Type": "image/jpeg"}
    )
    assert response.status == 401
