"""Input that used to crash a handler gets a 400 with a message that says what is wrong: JSON
nested without end, courts with absurd or mistyped numbers, SDP offers whose codecs do not
match their media line."""

from __future__ import annotations

from dataclasses import replace

import pytest

from server.app import create_app
from server.config import ConfigError, Settings
from server.live.session import client_message_reply
from tests.server.conftest import sign_up
from tests.server.live_client import ClipTrack, LiveClient
from tests.server.test_live import create_session

DEEP_JSON = "[" * 100_000 + "]" * 100_000
COURT = {
    "far_left": [427, 384],
    "far_right": [860, 382],
    "near_right": [998, 667],
    "near_left": [286, 670],
}
UPLOAD = {"filename": "match.mp4", "content_type": "video/mp4", "size": 1000}


async def assert_400(response, *words: str) -> None:
    assert response.status == 400, await response.text()
    error = (await response.json())["error"]
    for word in words:
        assert word in error, error


@pytest.mark.parametrize(
    "body, words",
    [
        (DEEP_JSON, ["nested deeper than 32 levels"]),
        ('{"email": ' * 50_000 + "1" + "}" * 50_000, ["nested deeper"]),
        ("[" * 33 + "]" * 33, ["nested deeper than 32 levels"]),
        ('{"email": "a@b.co", "password": NaN}', ["NaN is not a JSON number"]),
        ('{"email": "a@b.co", "password": 1e400}', ["too large"]),
        ('{"email": ' + "9" * 5000 + "}", ["not valid JSON"]),
        (b'{"email": "\xff"}', ["not UTF-8"]),
    ],
)
async def test_unusable_json_on_login_is_a_400(client, body, words):
    # Login is open to anyone: the body is parsed before any account is involved.
    response = await client.post(
        "/api/v1/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    await assert_400(response, *words)
    assert (await client.get("/api/v1/health")).status == 200


async def test_deep_json_is_a_400_on_signed_in_routes(client, alice):
    for path in ("/api/v1/upload/request", "/api/v1/stream/create"):
        response = await alice.call("POST", path, data=DEEP_JSON)
        await assert_400(response, "nested deeper")


async def test_json_depth_is_a_setting(aiohttp_client, settings):
    with pytest.raises(ConfigError):
        Settings(max_json_depth=3)
    with pytest.raises(ConfigError):
        Settings.from_env({"MAX_JSON_DEPTH": "many"})
    client = await aiohttp_client(create_app(replace(settings, max_json_depth=4)))
    alice = await sign_up(client, "alice@example.com")
    # A court inside an upload request: the body nests 3 levels deep, 4 with a nested list.
    body = {**UPLOAD, "court": COURT}
    assert (await alice.call("POST", "/api/v1/upload/request", json=body)).status == 201
    deeper = {**UPLOAD, "court": {**COURT, "far_left": [[427], 384]}}
    await assert_400(await alice.call("POST", "/api/v1/upload/request", json=deeper), "bad court")
    deepest = {**UPLOAD, "court": {**COURT, "far_left": [[[427]], 384]}}
    response = await alice.call("POST", "/api/v1/upload/request", json=deepest)
    await assert_400(response, "nested deeper than 4 levels")


BAD_CORNERS = [
    ([int("9" * 400), 384], "far_left must be [x, y]"),
    ([-int("9" * 400), 384], "far_left must be [x, y]"),
    ([1e300, 384], "far_left must be [x, y]"),
    (["427", 384], "far_left must be [x, y]"),
    ([427, "384"], "far_left must be [x, y]"),
    ([True, 384], "far_left must be [x, y]"),
    ([427, False], "far_left must be [x, y]"),
    ([427, None], "far_left must be [x, y]"),
    ([427], "far_left must be [x, y]"),
    ([427, 384, 1], "far_left must be [x, y]"),
    ("10", "far_left must be [x, y]"),
    ({"x": 427, "y": 384}, "far_left must be [x, y]"),
]


@pytest.mark.parametrize("corner, words", BAD_CORNERS)
async def test_courts_with_absurd_or_mistyped_numbers_are_refused(client, alice, corner, words):
    court = {**COURT, "far_left": corner}
    response = await alice.call("POST", "/api/v1/upload/request", json={**UPLOAD, "court": court})
    await assert_400(response, "bad court", words)


@pytest.mark.parametrize("value", ["10", True, 10.0**300])
async def test_every_route_taking_a_court_refuses_non_numbers(client, alice, value):
    court = {**COURT, "near_right": [value, 667]}
    created = await alice.call("POST", "/api/v1/upload/request", json={**UPLOAD, "court": COURT})
    assert created.status == 201
    job_id = (await created.json())["job_id"]
    confirm = await alice.call("POST", f"/api/v1/upload/confirm/{job_id}", json={"court": court})
    await assert_400(confirm, "near_right must be [x, y]")
    recourt = await alice.call("POST", f"/api/v1/jobs/{job_id}/court", json={"court": court})
    await assert_400(recourt, "near_right must be [x, y]")
    multipart = await alice.call(
        "POST", "/api/v1/upload/multipart/init", json={**UPLOAD, "court": court}
    )
    await assert_400(multipart, "near_right must be [x, y]")
    session = await alice.call("POST", "/api/v1/stream/create", json={})
    session_id = (await session.json())["id"]
    setup = await alice.call(
        "POST",
        f"/api/v1/stream/{session_id}/setup-court",
        json={"court": court, "frame_size": [1280, 720]},
    )
    await assert_400(setup, "near_right must be [x, y]")


async def test_numeric_courts_still_work(client, alice):
    court = {**COURT, "far_left": [427.5, 384]}
    response = await alice.call("POST", "/api/v1/upload/request", json={**UPLOAD, "court": court})
    assert response.status == 201, await response.text()
    job_id = (await response.json())["job_id"]
    job = await (await alice.call("GET", f"/api/v1/jobs/{job_id}")).json()
    assert job["court"]["far_left"] == [427.5, 384.0]


async def test_sdp_with_a_video_codec_under_an_audio_line_is_a_400(client, alice, clip):
    session_id = await create_session(alice, clip)
    publisher = LiveClient(ClipTrack(clip.video, 15))
    offer = await publisher.offer()
    assert "m=video" in offer["sdp"] and "VP8" in offer["sdp"]
    audio = {**offer, "sdp": offer["sdp"].replace("m=video", "m=audio", 1)}
    response = await alice.call("POST", f"/api/v1/stream/{session_id}/offer", json=audio)
    await assert_400(response, "m=audio", "no audio codec", "VP8")

    # The same offer, unchanged, is answered: the session is still usable.
    answer = await alice.call("POST", f"/api/v1/stream/{session_id}/offer", json=offer)
    assert answer.status == 200, await answer.text()
    await publisher.close()
    assert (await alice.call("POST", f"/api/v1/stream/{session_id}/end")).status == 200


def test_data_channel_messages_nested_without_end_get_an_error_reply():
    reply = client_message_reply("[" * 100_000 + "]" * 100_000)
    assert reply is not None and reply["code"] == "bad_message"
    assert "nested deeper" in reply["message"]
    assert client_message_reply('{"type": "ping", "t": 1.5}')["type"] == "pong"
