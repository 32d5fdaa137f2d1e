"""A live recording is copied to storage in pieces while it is made (local store and S3):
the pieces are there before it stops and play joined, the recording stored at the stop plays
and the pieces are gone; S3 going down for a while only delays them; and a server killed
mid-recording leaves pieces that the next start, on a machine without its disk, joins into
the session's recording, up to the last flush."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from dataclasses import replace

import aiohttp
import pytest
from sqlmodel import func, select

from server.context import DB, STREAMS
from server.live.recorder import KEYFRAME_INTERVAL_S
from server.live.recording_pieces import pieces_prefix
from server.models import StorageCleanup, StreamSession
from tests.server import server_process
from tests.server import test_upload_lifecycle_s3 as s3_lifecycle
from tests.server.conftest import sign_up
from tests.server.test_live import connect, create_session
from tests.server.test_live_recording import fetch, wait_until
from tests.server.test_recording_codecs import FPS, decoded, publisher, start_recording
from tests.server.test_upload_lifecycle_s3 import keys
from tools.live_load import Api

# moto's S3 server reached through a switch that can cut it off, a fresh bucket, and a client
# straight to moto: the fixtures of the S3 upload tests.
s3_switch = s3_lifecycle.s3_switch
bucket = s3_lifecycle.bucket
bucket_s3 = s3_lifecycle.bucket_s3
make_client = s3_lifecycle.make_client

FLUSH_S = 1.0


@pytest.fixture
def settings(settings):
    return replace(settings, recording_flush_s=FLUSH_S)


async def pieces_stored(storage, prefix: str, count: int, timeout: float = 60.0) -> list[str]:
    """Waits for `count` pieces or more under `prefix`; their keys."""
    deadline = time.monotonic() + timeout
    while len(found := await storage.list_keys(prefix)) < count:
        assert time.monotonic() < deadline, f"{len(found)} pieces after {timeout} s"
        await asyncio.sleep(0.2)
    return found


async def record_with_pieces(client, clip, tmp_path, s3_switch=None) -> None:
    alice = await sign_up(client, "alice@example.com")
    session_id = await create_session(alice, clip, quality="medium")
    phone = publisher(clip)
    await connect(alice, f"/api/v1/stream/{session_id}/offer", phone)
    live = client.app[STREAMS].live[session_id]
    await wait_until(lambda: live.encoded.codec is not None)
    assert (await alice.call("POST", f"/api/v1/stream/{session_id}/recording/start")).status == 200
    async with client.app[DB].session() as db:
        key = (await db.get(StreamSession, session_id)).recording_key
    storage, prefix = client.app[STREAMS].storage, pieces_prefix(key)

    # More than two flushes in: pieces are in storage while it records.
    found = await pieces_stored(storage, prefix, 3)
    if s3_switch is not None:  # S3 unreachable for a few flushes: recording goes on
        s3_switch.switch_off()
        frames = live.recorder.frames
        await asyncio.sleep(3 * FLUSH_S + KEYFRAME_INTERVAL_S)
        assert live.recorder.frames > frames + FPS
        s3_switch.switch_on()
    found = await pieces_stored(storage, prefix, len(found) + 2)
    joined = tmp_path / "joined.mp4"
    joined.write_bytes(b"".join([await storage.get_bytes(k) for k in found]))
    joined_frames, joined_duration = decoded(joined)
    assert joined_frames >= 2 * FPS

    stopped = await alice.call("POST", f"/api/v1/stream/{session_id}/recording/stop")
    assert stopped.status == 200, await stopped.text()
    result = await stopped.json()
    assert result["key"] == key
    final = tmp_path / "recording.mp4"
    final.write_bytes(await fetch(result["url"]))
    # The pieces were the file as it was; what is stored at the stop is the whole of it.
    assert final.read_bytes().startswith(joined.read_bytes())
    frames, duration = decoded(final)
    assert frames > joined_frames and duration > joined_duration
    assert abs(duration - frames / FPS) < 3 / FPS
    assert await storage.list_keys(prefix) == []
    async with client.app[DB].session() as db:
        assert (await db.exec(select(func.count()).select_from(StorageCleanup))).one() == 0
    outputs = await (await alice.call("GET", f"/api/v1/stream/{session_id}/outputs")).json()
    (recording,) = outputs["recordings"]
    assert recording["cut_short"] is False and recording["offset_s"] is not None
    assert (await alice.call("POST", f"/api/v1/stream/{session_id}/end")).status == 200
    await phone.close()


async def test_a_recording_is_copied_while_it_records_to_local_storage(client, clip, tmp_path):
    await record_with_pieces(client, clip, tmp_path)


async def test_a_recording_is_copied_while_it_records_to_s3(make_client, s3_switch, clip, tmp_path):
    await record_with_pieces(await make_client(), clip, tmp_path, s3_switch)


async def test_a_killed_server_keeps_the_recording_up_to_the_last_flush(
    clip, tmp_path, moto_endpoint, bucket, bucket_s3
):
    flush_s = 2.0
    env = {
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": moto_endpoint,
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SECRET_KEY": "shared by every node",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}",
        "RECORDING_FLUSH_S": str(flush_s),
    }
    phone = publisher(clip)
    first = second = None
    try:
        async with aiohttp.ClientSession() as http:
            first, port, _ = await server_process.started(tmp_path / "node-a", env)
            url = f"http://127.0.0.1:{port}"
            api = Api(http, url)
            session = await start_recording(api, phone, clip)
            base = f"/api/v1/stream/{session['id']}"
            started = time.monotonic()
            prefix = "users/"
            await until_pieces(bucket_s3, bucket, prefix, 4)
            await asyncio.sleep(flush_s / 2)  # between two flushes
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
            streamed = time.monotonic() - started
            found = await until_pieces(bucket_s3, bucket, prefix, 4)  # all it stored
            shutil.rmtree(tmp_path / "node-a")  # the machine is lost with its disk
            at_kill = tmp_path / "pieces.mp4"
            at_kill.write_bytes(b"".join([await read(bucket_s3, bucket, k) for k in found]))
            _, stored_at_kill = decoded(at_kill)
            await phone.close()

            # Another machine (no disk of the first) starts against the same database and
            # bucket: the session ends with its recording joined from the pieces.
            second, port, _ = await server_process.started(tmp_path / "node-b", env)
            url = f"http://127.0.0.1:{port}"
            api.url = url
            status = await api.call("GET", f"{base}/status")
            assert status["status"] == "ended"
            assert status["error"] == "the server restarted during the session"
            outputs = await api.call("GET", f"{base}/outputs")
            (recording,) = outputs["recordings"]
            video = tmp_path / "recovered.mp4"
            video.write_bytes(await fetch(recording["url"]))
            assert await keys(bucket_s3, bucket, pieces_prefix(recording["key"])) == []
    finally:
        await phone.close()
        for server in (first, second):
            if server is not None and server.poll() is None:
                server.terminate()
                server.wait(timeout=30)
    frames, duration = decoded(video)
    print(
        f"streamed {streamed:.1f} s while recording, pieces at the kill {stored_at_kill:.1f} s,"
        f" recovered {duration:.1f} s ({frames} frames, {len(found)} pieces)"
    )
    assert recording["cut_short"] is True and recording["offset_s"] is not None
    assert abs(recording["duration_s"] - duration) < 0.5
    # Joined from the pieces: up to the last flush before the kill.
    assert frames >= 4 * FPS and abs(duration - stored_at_kill) <= 1 / FPS
    # Lost: at most the flush period and the fragment being written (plus start-up).
    assert streamed - duration < flush_s + 2 * KEYFRAME_INTERVAL_S + 2.0


async def until_pieces(s3, bucket_name: str, prefix: str, count: int) -> list[str]:
    deadline = time.monotonic() + 90
    while True:
        found = [k for k in await keys(s3, bucket_name, prefix) if ".pieces/" in k]
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"{len(found)} pieces stored"
        await asyncio.sleep(0.1)


async def read(s3, bucket_name: str, key: str) -> bytes:
    response = await s3.get_object(Bucket=bucket_name, Key=key)
    return await response["Body"].read()
