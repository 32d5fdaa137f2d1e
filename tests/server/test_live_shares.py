"""Share links to an ended live session's report over HTTP, from a real session (an aiortc
publisher on loopback, recorded from a while in): its owner makes one once the report exists;
anyone holding it reads the report, the recording placed in the session's time, the heatmaps
and the CSV without an account; revoked, it stops; nobody else makes, lists or revokes one."""

from __future__ import annotations

import json

from server.context import STREAMS
from tests.server.conftest import SignedIn
from tests.server.live_client import ClipTrack, LiveClient
from tests.server.test_live import connect
from tests.server.test_live_recording import wait_until
from tests.server.test_shares import anonymous_get

CAMERA_FPS = 10


async def ended_live_session(client, user: SignedIn, clip, name: str = "Friday singles") -> str:
    """A live session streamed from the clip (looping), recorded from about 2 s in for about
    7 s of its time, then ended; returns its id. Checks on the way that no share link can be
    made before the end."""
    created = await user.call(
        "POST", "/api/v1/stream/create", json={"name": name, "quality": "medium"}
    )
    assert created.status == 201, await created.text()
    session_id = (await created.json())["id"]
    path = f"/api/v1/stream/{session_id}"
    court = {"court": clip.corners, "frame_size": [1280, 720]}
    assert (await user.call("POST", f"{path}/setup-court", json=court)).status == 200
    assert (await user.call("POST", f"{path}/start")).status == 200
    publisher = LiveClient(ClipTrack(clip.video, CAMERA_FPS, loop=True))
    await connect(user, f"{path}/offer", publisher)
    analysis = client.app[STREAMS].live[session_id].analysis
    # The recording starts a while into the session, so its time and the shots' differ.
    await wait_until(lambda: (analysis.last_timestamp or 0) >= 2.0, timeout=60)
    early = await user.call("POST", f"{path}/shares", json={})
    assert early.status == 409, await early.text()
    assert "ends" in (await early.json())["error"]
    assert (await user.call("POST", f"{path}/recording/start")).status == 200
    await wait_until(lambda: (analysis.last_timestamp or 0) >= 9.0, timeout=60)
    ended = await user.call("POST", f"{path}/end")
    assert ended.status == 200, await ended.text()
    await publisher.close()
    return session_id


async def shared(client, token: str, what: str = "report") -> tuple[int, bytes]:
    url = client.make_url(f"/api/v1/shared/{what}").with_query(token=token)
    status, _, body, _ = await anonymous_get(str(url))
    return status, body


async def test_live_share_link_lifecycle(client, alice, bob, clip):
    session_id = await ended_live_session(client, alice, clip)
    path = f"/api/v1/stream/{session_id}"
    report = await (await alice.call("GET", f"{path}/report")).json()
    outputs = await (await alice.call("GET", f"{path}/outputs")).json()
    (recording,) = outputs["recordings"]
    assert recording["offset_s"] >= 2.0

    # Nobody but the owner makes, lists or revokes the session's links.
    assert (await bob.call("POST", f"{path}/shares", json={})).status == 404
    assert (await bob.call("GET", f"{path}/shares")).status == 404
    assert (await client.post(f"{path}/shares", json={})).status == 401
    made = await alice.call("POST", f"{path}/shares", json={})
    assert made.status == 201, await made.text()
    link = await made.json()
    assert link["kind"] == "live" and link["report_id"] == session_id
    origin = str(client.make_url("/")).rstrip("/")
    assert link["url"] == f"{origin}/static/shared.html#{link['token']}"
    assert (await bob.call("DELETE", f"{path}/shares/{link['id']}")).status == 404

    # Opened without an account: the report, the recording at its offset, the heatmaps.
    status, body = await shared(client, link["token"])
    assert status == 200, body
    opened = json.loads(body)
    assert (opened["kind"], opened["title"]) == ("live", "Friday singles")
    assert opened["report"] == report
    (shared_recording,) = opened["outputs"]["recordings"]
    assert shared_recording["offset_s"] == recording["offset_s"]
    assert shared_recording["duration_s"] == recording["duration_s"]
    status, content_type, video, _ = await anonymous_get(shared_recording["url"])
    assert status == 200 and len(video) > 1000
    assert video[4:8] == b"ftyp"
    for side in ("near", "far"):
        status, _, image, _ = await anonymous_get(opened["outputs"][f"heatmap_{side}"])
        assert status == 200 and image[:4] == b"\x89PNG"

    # Its CSV, as the owner gets it, named after the session.
    owner_csv = await alice.call("GET", f"{path}/shots.csv")
    assert owner_csv.status == 200 and owner_csv.content_type == "text/csv"
    assert "Friday singles-shots.csv" in owner_csv.headers["Content-Disposition"]
    owner_text = await owner_csv.text()
    assert len(owner_text.splitlines()) == len(report["shots"]) + 1
    status, body = await shared(client, link["token"], "shots.csv")
    assert status == 200 and body.decode() == owner_text
    assert (await bob.call("GET", f"{path}/shots.csv")).status == 404

    listed = await (await alice.call("GET", f"{path}/shares")).json()
    assert [s["id"] for s in listed["shares"]] == [link["id"]]

    # Revoked: report and CSV are gone at once.
    assert (await alice.call("DELETE", f"{path}/shares/{link['id']}")).status == 204
    for what in ("report", "shots.csv"):
        status, body = await shared(client, link["token"], what)
        assert status == 410, what
        assert "revoked" in json.loads(body)["error"]
    assert (await (await alice.call("GET", f"{path}/shares")).json())["shares"] == []


async def test_no_live_share_or_csv_before_the_end(client, alice, clip):
    created = await alice.call("POST", "/api/v1/stream/create", json={"quality": "medium"})
    path = f"/api/v1/stream/{(await created.json())['id']}"
    for response in (
        await alice.call("POST", f"{path}/shares", json={}),
        await alice.call("GET", f"{path}/shots.csv"),
    ):
        assert response.status == 409
        assert "ends" in (await response.json())["error"]
