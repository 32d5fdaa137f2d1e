"""One list of matches (uploads and live sessions), and a live session's report as an upload's:
its recordings placed in the session's time, readable by the owner and, read-only, by a
valid viewer link."""

from __future__ import annotations

import time

import numpy as np

from analysis.video import iter_frames, probe
from server.context import STREAMS
from server.live.viewer_tokens import sign_viewer_token
from tests.server.conftest import SignedIn
from tests.server.live_client import ClipTrack, LiveClient
from tests.server.test_live import connect, create_session
from tests.server.test_live_recording import fetch, wait_until
from tests.server.test_uploads import request_upload

CAMERA_FPS = 10


async def matches(user: SignedIn) -> list[dict]:
    response = await user.call("GET", "/api/v1/matches")
    assert response.status == 200, await response.text()
    return (await response.json())["matches"]


async def test_matches_list_uploads_and_live_sessions_newest_first(client, alice, bob):
    first = await request_upload(alice, b"x" * 1000, filename="monday.mp4")
    created = await alice.call("POST", "/api/v1/stream/create", json={"name": "Tuesday"})
    live_id = (await created.json())["id"]
    last = await request_upload(alice, b"x" * 1000, filename="wednesday.mp4")

    listed = await matches(alice)
    assert [(m["kind"], m["id"]) for m in listed] == [
        ("upload", last["job_id"]),
        ("live", live_id),
        ("upload", first["job_id"]),
    ]
    assert [m["name"] for m in listed] == ["wednesday.mp4", "Tuesday", "monday.mp4"]
    assert [m["status"] for m in listed] == ["uploading", "setup", "uploading"]
    assert not any(m["report_ready"] for m in listed)
    assert await matches(bob) == []
    assert (await client.get("/api/v1/matches")).status == 401


def clip_index(image: np.ndarray, frames: list[np.ndarray]) -> int:
    """Which of the clip's frames a picture shows (the closest, as video coding blurs)."""
    small = image[::8, ::8].astype(np.float32)
    errors = [float(np.mean((small - f[::8, ::8].astype(np.float32)) ** 2)) for f in frames]
    return int(np.argmin(errors))


async def test_live_report_places_its_recording_and_a_viewer_link_reads_it(
    client, alice, bob, clip, tmp_path
):
    session_id = await create_session(alice, clip, quality="medium")
    path = f"/api/v1/stream/{session_id}"
    track = ClipTrack(clip.video, CAMERA_FPS, loop=True)
    publisher = LiveClient(track)
    await connect(alice, f"{path}/offer", publisher)
    link = await (await alice.call("POST", f"{path}/viewers", json={})).json()
    token = link["token"]
    live = client.app[STREAMS].live[session_id]
    # The recording starts a while into the session, so its time and the shots' differ.
    await wait_until(lambda: (live.analysis.last_timestamp or 0) >= 2.0)
    assert (await alice.call("GET", f"{path}/report")).status == 409
    assert (await client.get(f"/api/v1/view/{token}/report")).status == 409
    assert (await alice.call("POST", f"{path}/recording/start")).status == 200
    await wait_until(lambda: live.recorder is not None and live.recorder.frames >= 20)
    ended = await alice.call("POST", f"{path}/end")
    assert ended.status == 200
    await publisher.close()

    # The owner reads the report as an upload's, and finds the match in the list.
    response = await alice.call("GET", f"{path}/report")
    assert response.status == 200
    report = await response.json()
    assert report == await ended.json()
    assert report["shots"] and report["summary"]["total_shots"] == len(report["shots"])
    (listed,) = await matches(alice)
    assert (listed["kind"], listed["id"], listed["status"]) == ("live", session_id, "ended")
    assert listed["report_ready"] and listed["total_shots"] == len(report["shots"])
    assert listed["rallies"] == len(report["rallies"])
    assert (await bob.call("GET", f"{path}/report")).status == 404

    # The recording's first frame is at offset_s of the session's time: the clip frame it
    # shows is the one the camera sent at that time (the clip loops every len(frames)).
    outputs = await (await alice.call("GET", f"{path}/outputs")).json()
    (recording,) = outputs["recordings"]
    video = tmp_path / "recording.mp4"
    video.write_bytes(await fetch(recording["url"]))
    assert recording["duration_s"] > 1.5
    assert abs(recording["duration_s"] - probe(video).duration) < 0.25
    frames = [f.to_ndarray(format="bgr24") for f in track.frames]
    loop_s = len(frames) / CAMERA_FPS
    shown = clip_index(next(iter(iter_frames(video))).image, frames) / CAMERA_FPS
    assert recording["offset_s"] >= 2.0
    gap = (recording["offset_s"] - shown) % loop_s
    assert min(gap, loop_s - gap) <= 0.15, (recording["offset_s"], shown)

    # A valid viewer link reads the same report and files, and nothing else.
    viewer_report = await client.get(f"/api/v1/view/{token}/report")
    assert viewer_report.status == 200
    assert await viewer_report.json() == report
    viewer_outputs = await (await client.get(f"/api/v1/view/{token}/outputs")).json()
    assert [(r["key"], r["offset_s"]) for r in viewer_outputs["recordings"]] == [
        (recording["key"], recording["offset_s"])
    ]
    assert (await fetch(viewer_outputs["heatmap_near"])).startswith(b"\x89PNG")
    as_bearer = await client.get(f"{path}/report", headers={"Authorization": f"Bearer {token}"})
    assert as_bearer.status == 401

    # Expired or revoked, the link opens nothing.
    link_id = token.split(".")[0]
    expired = sign_viewer_token(client.app[STREAMS].key, link_id, session_id, int(time.time()) - 5)
    for what in ("report", "outputs"):
        refused = await client.get(f"/api/v1/view/{expired}/{what}")
        assert refused.status == 403 and "expired" in (await refused.json())["error"]
    assert (await alice.call("DELETE", f"{path}/viewers/{link['id']}")).status == 204
    for what in ("report", "outputs"):
        refused = await client.get(f"/api/v1/view/{token}/{what}")
        assert refused.status == 403 and "revoked" in (await refused.json())["error"]
