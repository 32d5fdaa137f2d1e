"""What a recording holds, by the codec the phone sends: its own H.264 frames as they came
(nothing re-encoded), or for any other codec the decoded frames encoded again; either way a
fragmented MP4 that plays, also when the server is killed mid-recording."""

from __future__ import annotations

import asyncio
import inspect
import os
import queue
import signal
from pathlib import Path

import aiohttp
import av
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender

from server.context import STREAMS
from server.live.encoded import DECODER_QUEUE, H264, SEND_PLI, EncodedFrame
from server.live.recorder import START_CODE, H264Recorder, Mp4Recorder
from tests.server.live_client import ClipTrack, LiveClient
from tests.server.test_live import connect, create_session
from tests.server.test_live_recording import fetch, wait_until
from tools.live_load import Api, ServerProcess

FPS = 10


def publisher(clip, codec: str | None = None) -> LiveClient:
    """An aiortc phone streaming the clip; `codec` (a mime type) is then all it offers."""
    client = LiveClient(ClipTrack(clip.video, FPS, loop=True))
    if codec is not None:
        codecs = [
            c for c in RTCRtpSender.getCapabilities("video").codecs if c.mimeType.lower() == codec
        ]
        client.pc.getTransceivers()[0].setCodecPreferences(codecs)
    return client


def nal_units(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B frame, without start codes."""
    units = [u[:-1] if u.endswith(b"\x00") else u for u in data.split(START_CODE)]
    return [u for u in units if u]  # (a 4-byte start code leaves a zero byte before it)


def recorded_units(path: Path) -> list[list[bytes]]:
    """Each sample's NAL units as stored in the MP4 (4-byte lengths before each unit)."""
    samples = []
    with av.open(str(path)) as container:
        for packet in container.demux(video=0):
            data, units = bytes(packet), []
            while data:
                size = int.from_bytes(data[:4], "big")
                units.append(data[4 : 4 + size])
                data = data[4 + size :]
            if units:
                samples.append(units)
    return samples


def decoded(path: Path) -> tuple[int, float]:
    """Frames that decode, and the video's duration in seconds. A file cut short (the
    process killed while writing a fragment) ends in a truncated frame, which a player
    skips; so does this."""
    frames = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            try:
                frames += len(packet.decode())
            except av.error.InvalidDataError:
                continue
        duration = float(container.duration / av.time_base) if container.duration else 0.0
    return frames, duration


async def test_an_h264_stream_is_recorded_as_it_was_sent(client, alice, clip, tmp_path):
    session_id = await create_session(alice, clip, quality="medium")
    phone = publisher(clip)  # offers VP8 first, as browsers do: the server picks H.264
    await connect(alice, f"/api/v1/stream/{session_id}/offer", phone)
    live = client.app[STREAMS].live[session_id]
    await wait_until(lambda: live.encoded.codec is not None)
    assert live.encoded.codec == H264

    received: list[EncodedFrame] = []
    live.encoded.subscribe(received.append)  # what reaches the server, to compare with
    assert (await alice.call("POST", f"/api/v1/stream/{session_id}/recording/start")).status == 200
    recorder = live.recorder
    assert isinstance(recorder, H264Recorder)
    await wait_until(lambda: recorder.frames >= 30)
    stopped = await alice.call("POST", f"/api/v1/stream/{session_id}/recording/stop")
    assert stopped.status == 200
    live.encoded.unsubscribe(received.append)
    video = tmp_path / "recording.mp4"
    video.write_bytes(await fetch((await stopped.json())["url"]))

    # The file holds the frames received, from the first keyframe on, byte for byte.
    samples = recorded_units(video)
    sent = [nal_units(f.data) for f in received]
    first = next(i for i, units in enumerate(sent) if units == samples[0])
    assert samples == sent[first : first + len(samples)]
    assert len(samples) >= len(sent) - first - 5  # at most the frames in flight at the stop
    frames, duration = decoded(video)
    assert frames == len(samples) >= 30
    assert abs(duration - frames / FPS) < 3 / FPS
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.width, stream.height) == ("h264", 1280, 720)
    assert (await alice.call("POST", f"/api/v1/stream/{session_id}/end")).status == 200
    await phone.close()


async def test_a_vp8_stream_is_recorded_by_encoding_it(client, alice, clip, tmp_path):
    session_id = await create_session(alice, clip, quality="medium")
    phone = publisher(clip, "video/vp8")
    await connect(alice, f"/api/v1/stream/{session_id}/offer", phone)
    live = client.app[STREAMS].live[session_id]
    await wait_until(lambda: live.encoded.codec is not None)
    assert live.encoded.codec == "video/vp8"

    assert (await alice.call("POST", f"/api/v1/stream/{session_id}/recording/start")).status == 200
    assert isinstance(live.recorder, Mp4Recorder)
    await wait_until(lambda: live.recorder.frames >= 20)
    stopped = await alice.call("POST", f"/api/v1/stream/{session_id}/recording/stop")
    video = tmp_path / "recording.mp4"
    video.write_bytes(await fetch((await stopped.json())["url"]))
    frames, duration = decoded(video)
    assert frames >= 20
    assert abs(duration - frames / FPS) < 0.5
    with av.open(str(video)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    assert (await alice.call("POST", f"/api/v1/stream/{session_id}/end")).status == 200
    await phone.close()


async def test_the_recording_goes_on_when_the_phone_reconnects(client, alice, clip, tmp_path):
    session_id = await create_session(alice, clip, quality="medium")
    first = publisher(clip)
    await connect(alice, f"/api/v1/stream/{session_id}/offer", first)
    live = client.app[STREAMS].live[session_id]
    await wait_until(lambda: live.encoded.codec == H264)
    await alice.call("POST", f"/api/v1/stream/{session_id}/recording/start")
    recorder = live.recorder
    await wait_until(lambda: recorder.frames >= 20)
    await first.close()  # the network drops
    before = recorder.frames

    second = publisher(clip)
    await connect(alice, f"/api/v1/stream/{session_id}/offer", second)
    await wait_until(lambda: recorder.frames >= before + 20)
    stopped = await alice.call("POST", f"/api/v1/stream/{session_id}/recording/stop")
    video = tmp_path / "recording.mp4"
    video.write_bytes(await fetch((await stopped.json())["url"]))
    frames, duration = decoded(video)
    assert frames == recorder.frames >= before + 20
    assert abs(duration - frames / FPS) < 3 / FPS  # one time line, no gap or overlap
    assert (await alice.call("POST", f"/api/v1/stream/{session_id}/end")).status == 200
    await second.close()


async def test_a_server_killed_mid_recording_leaves_a_file_that_plays(clip, tmp_path):
    server = ServerProcess(tmp_path / "data", tmp_path / "server.log")
    phone = publisher(clip)
    try:
        async with aiohttp.ClientSession() as http:
            await server.wait_ready(http)
            api = Api(http, server.url)
            session = await start_recording(api, phone, clip)
            recordings = tmp_path / "data" / "recordings" / session["id"]
            await wait_until(lambda: fragments(recordings) >= 3, timeout=60)
            os.kill(server.pid, signal.SIGKILL)
            server.process.wait()
    finally:
        await phone.close()
        server.stop()
    (video,) = recordings.iterdir()
    frames, duration = decoded(video)
    # Two whole fragments of about 2 s at least; the last one may be cut short.
    assert frames >= 2 * FPS
    assert duration >= frames / FPS - 1 / FPS


async def start_recording(api: Api, phone: LiveClient, clip) -> dict:
    """Signs up, streams the phone's clip into a new Medium session with the clip's court and
    records it; returns the session."""
    await api.sign_up("alice@example.com")
    session = await api.call("POST", "/api/v1/stream/create", {"quality": "medium"})
    base = f"/api/v1/stream/{session['id']}"
    court = {"court": clip.corners, "frame_size": [1280, 720]}
    await api.call("POST", f"{base}/setup-court", court)
    await api.call("POST", f"{base}/start")
    await phone.accept(await api.call("POST", f"{base}/offer", await phone.offer()))
    await asyncio.wait_for(phone.channel_open.wait(), 30)
    await api.call("POST", f"{base}/recording/start")
    return session


def fragments(folder: Path) -> int:
    """Movie fragments written so far in the folder's recording."""
    files = list(folder.glob("*.mp4")) if folder.is_dir() else []
    return files[0].read_bytes().count(b"moof") if files else 0


async def test_the_private_aiortc_names_the_recorder_relies_on_are_there():
    """aiortc has no public API for encoded frames or keyframe requests; this fails if the
    private names used change in an aiortc upgrade (the recorder would then re-encode)."""
    pc = RTCPeerConnection()
    receiver = pc.addTransceiver("video", direction="recvonly").receiver
    assert isinstance(getattr(receiver, DECODER_QUEUE), queue.Queue)
    # Looked up on every packet, so a stand-in set later is used.
    assert "self.__decoder_queue.put((codec, encoded_frame))" in inspect.getsource(
        RTCRtpReceiver._handle_rtp_packet
    )
    send_pli = getattr(receiver, SEND_PLI)
    assert inspect.iscoroutinefunction(send_pli)
    assert list(inspect.signature(send_pli).parameters) == ["media_ssrc"]
    await pc.close()
