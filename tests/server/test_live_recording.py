"""Recording live streams, reconnecting publishers, and what a session leaves behind."""

from __future__ import annotations

import asyncio
import gc
import shutil
import threading
from dataclasses import replace

import aiohttp

from analysis.video import iter_frames, probe
from server.app import create_app
from server.context import DB, STREAMS
from server.models import StreamSession, StreamStatus
from tests.server.conftest import sign_up
from tests.server.live_client import ClipTrack, LiveClient
from tests.server.test_live import connect, create_session


async def fetch(url: str) -> bytes:
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as response:
            assert response.status == 200
            return await response.read()


async def wait_until(condition, timeout: float = 20.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached")


def has_fragment(recorder) -> bool:
    """Whether the recording has a first complete fragment (25 frames or more)."""
    if recorder is None or recorder.frames < 25 or not recorder.path.exists():
        return False
    return recorder.path.read_bytes().count(b"moof") >= 2


async def test_recording_is_stored_and_plays(client, alice, clip, tmp_path):
    session_id = await create_session(alice, clip, quality="medium")
    publisher = LiveClient(ClipTrack(clip.video, 10, loop=True))
    await connect(alice, f"/api/v1/stream/{session_id}/offer", publisher)
    assert (await alice.call("POST", f"/api/v1/stream/{session_id}/recording/start")).status == 200
    again = await alice.call("POST", f"/api/v1/stream/{session_id}/recording/start")
    assert again.status == 409
    live = client.app[STREAMS].live[session_id]
    await wait_until(lambda: has_fragment(live.recorder))

    # Mid-recording the file already plays up to its last fragment, as after a crash.
    partial = tmp_path / "partial.mp4"
    shutil.copy(live.recorder.path, partial)
    assert sum(1 for _ in iter_frames(partial)) >= 1

    stopped = await alice.call("POST", f"/api/v1/stream/{session_id}/recording/stop")
    assert stopped.status == 200
    result = await stopped.json()
    video = tmp_path / "recording.mp4"
    video.write_bytes(await fetch(result["url"]))
    info = probe(video)
    assert (info.width, info.height, info.codec) == (1280, 720, "h264")
    frames = sum(1 for _ in iter_frames(video))
    assert frames >= 25
    status = await (await alice.call("GET", f"/api/v1/stream/{session_id}/status")).json()
    assert status["recordings"] == [result["key"]]
    assert status["live"]["recording"] is False
    assert (await alice.call("POST", f"/api/v1/stream/{session_id}/recording/stop")).status == 409

    # Recording again, then ending the session, stores the second recording too.
    await alice.call("POST", f"/api/v1/stream/{session_id}/recording/start")
    await asyncio.sleep(1.0)
    assert (await alice.call("POST", f"/api/v1/stream/{session_id}/end")).status == 200
    status = await (await alice.call("GET", f"/api/v1/stream/{session_id}/status")).json()
    assert len(status["recordings"]) == 2
    outputs = await (await alice.call("GET", f"/api/v1/stream/{session_id}/outputs")).json()
    assert [r["key"] for r in outputs["recordings"]] == status["recordings"]
    assert (await fetch(outputs["recordings"][1]["url"]))[4:8] == b"ftyp"
    assert (await fetch(outputs["heatmap_near"])).startswith(b"\x89PNG")
    await publisher.close()


async def test_restart_stores_a_recording_left_behind(aiohttp_client, settings, clip):
    first = await aiohttp_client(create_app(settings))
    alice = await sign_up(first, "alice@example.com")
    session_id = await create_session(alice, clip, quality="medium")
    publisher = LiveClient(ClipTrack(clip.video, 10, loop=True))
    await connect(alice, f"/api/v1/stream/{session_id}/offer", publisher)
    await alice.call("POST", f"/api/v1/stream/{session_id}/recording/start")
    live = first.app[STREAMS].live[session_id]
    await wait_until(lambda: has_fragment(live.recorder))
    # What a crash would leave: the file as it is now, and the session still streaming.
    left = settings.data_dir / "recordings" / session_id / "left-behind.mp4"
    shutil.copy(live.recorder.path, left)
    await publisher.close()
    await first.close()
    second = await aiohttp_client(create_app(settings))
    async with second.app[DB].session() as db:
        session = await db.get(StreamSession, session_id)
        session.status, session.ended_at = StreamStatus.STREAMING, None
        session.recording_path = str(left)
        session.recording_key = f"{session.output_prefix}/recordings/left-behind.mp4"
        db.add(session)
        await db.commit()
    await second.close()

    third = await aiohttp_client(create_app(settings))
    alice.client = third
    status = await (await alice.call("GET", f"/api/v1/stream/{session_id}/status")).json()
    assert status["status"] == "ended"
    assert status["error"] == "the server restarted during the session"
    key = status["recordings"][-1]
    assert key.endswith("left-behind.mp4")
    assert not left.exists()
    data = await third.app[STREAMS].storage.get_bytes(key)
    assert data[4:8] == b"ftyp" and len(data) > 10_000
    # Listed as cut short, with the time it lasts.
    outputs = await (await alice.call("GET", f"/api/v1/stream/{session_id}/outputs")).json()
    recording = outputs["recordings"][-1]
    assert recording["cut_short"] is True and recording["duration_s"] >= 1.0


async def test_publisher_reconnects_and_the_session_goes_on(client, alice, clip):
    session_id = await create_session(alice, clip, quality="medium")
    first = LiveClient(ClipTrack(clip.video, 10, loop=True))
    await connect(alice, f"/api/v1/stream/{session_id}/offer", first)
    await wait_until(lambda: len(first.of_type("position_update")) >= 3)
    last_time = max(m["timestamp"] for m in first.of_type("position_update"))
    await first.close()  # the network drops

    second = LiveClient(ClipTrack(clip.video, 10, loop=True))
    await connect(alice, f"/api/v1/stream/{session_id}/offer", second)
    await wait_until(lambda: len(second.of_type("position_update")) >= 3)
    times = [m["timestamp"] for m in second.of_type("position_update")]
    assert min(times) > last_time  # one continuous stream for the analysis
    status = await (await alice.call("GET", f"/api/v1/stream/{session_id}/status")).json()
    assert status["status"] == "streaming" and status["live"]["publisher_connected"]
    assert (await alice.call("POST", f"/api/v1/stream/{session_id}/end")).status == 200
    await second.close()


async def test_an_abandoned_session_ends_by_itself(aiohttp_client, settings, clip):
    # Long enough for a loaded machine to connect the phone within it.
    client = await aiohttp_client(create_app(replace(settings, publisher_grace_s=3.0)))
    alice = await sign_up(client, "alice@example.com")
    session_id = await create_session(alice, clip, quality="medium")
    publisher = LiveClient(ClipTrack(clip.video, 10, loop=True))
    await connect(alice, f"/api/v1/stream/{session_id}/offer", publisher)
    await wait_until(lambda: len(publisher.of_type("position_update")) >= 3)
    await publisher.close()
    for _ in range(300):
        status = await (await alice.call("GET", f"/api/v1/stream/{session_id}/status")).json()
        if status["status"] == "ended":
            break
        await asyncio.sleep(0.1)
    assert status["status"] == "ended"
    assert status["report_key"] is not None


async def test_an_ended_session_leaves_nothing_running(client, alice, clip):
    threads_before = {t.name for t in threading.enumerate()}
    session_id = await create_session(alice, clip, quality="medium")
    publisher = LiveClient(ClipTrack(clip.video, 10, loop=True))
    await connect(alice, f"/api/v1/stream/{session_id}/offer", publisher)
    await alice.call("POST", f"/api/v1/stream/{session_id}/recording/start")
    await wait_until(lambda: len(publisher.of_type("position_update")) >= 3)
    live = client.app[STREAMS].live[session_id]
    assert (await alice.call("POST", f"/api/v1/stream/{session_id}/end")).status == 200
    await publisher.close()

    assert session_id not in client.app[STREAMS].live
    await wait_until(lambda: all(t.done() for t in live.analysis._tasks))
    names = ("read-", "analyse-", "record-", "end-", "status-")
    leftover = [
        t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith(names) and not t.done()
    ]
    assert leftover == []
    gc.collect()

    def new_worker_threads() -> list[str]:
        names = {t.name for t in threading.enumerate()} - threads_before
        return [n for n in names if n.startswith(("analysis-", "pose-", "recorder"))]

    await wait_until(lambda: not new_worker_threads())
