"""A load of live streams on a real server process, measured: the phones' video, the server
in a child process, aiortc publishers that send the video as it is encoded and note when each
frame left, and one run that polls the server's status, CPU and memory meanwhile.

`tools.bench_live` turns a run into benchmark results.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import fractions
import itertools
import json
import math
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.contrib.media import MediaPlayer

from server.streams import QUALITY_PRESETS
from tools.bench import measure

ROOT = Path(__file__).resolve().parents[1]
KEYFRAME_S = 2.0
POLL_S = 5.0  # status, CPU and memory sampling period
WARMUP_TIMEOUT_S = 180.0  # for every stream's first results (8 analyzers loading at once)
# Video the phones need beyond a run's measured part: the warm-up, connecting, the end.
SPARE_S = WARMUP_TIMEOUT_S + 30.0
# Messages whose timestamp is that of the frame just analysed (shots are decided later and
# carry their own, older frame's time).
FRAME_MESSAGES = {"position_update", "stats_update"}
PASSWORD = "bench password 123"


def quality_for(fps: float) -> tuple[str, int]:
    """The session quality preset that streams at `fps`, and its bitrate in kb/s."""
    for name, preset in QUALITY_PRESETS.items():
        if preset["fps"] == fps:
            return name, int(preset["kbps"])
    rates = sorted(p["fps"] for p in QUALITY_PRESETS.values())
    raise ValueError(f"no quality preset streams at {fps:g} fps; the rates are {rates}")


# -- the phones' video -----------------------------------------------------------------


def prepare_input(src: Path, dst: Path, fps: float, kbps: int, seconds: float) -> float:
    """Writes `src` at `fps` as baseline H.264 in MPEG-TS, looped to last `seconds`; returns
    the length written. One loop is encoded; the others copy its packets, re-timed."""
    rate = fractions.Fraction(fps).limit_denominator(1000)
    packets, (width, height) = _encode(src, rate, kbps)  # one loop: data, seconds, keyframe
    loop_s = len(packets) / fps
    loops = max(1, math.ceil(seconds / loop_s))
    tick = fractions.Fraction(1, 90_000)
    with av.open(str(dst), mode="w", format="mpegts") as out:
        video = out.add_stream("h264", rate=rate)
        video.width, video.height = width, height
        for loop in range(loops):
            for data, at, keyframe in packets:
                packet = av.Packet(data)
                packet.pts = packet.dts = round((at + loop * loop_s) / tick)
                packet.time_base, packet.stream, packet.is_keyframe = tick, video, keyframe
                out.mux(packet)
    return loops * loop_s


def _encode(
    src: Path, rate: fractions.Fraction, kbps: int
) -> tuple[list[tuple[bytes, float, bool]], tuple[int, int]]:
    """`src` at `rate` frames per second (frames skipped, not blended), as a phone would
    encode it: no B-frames, a keyframe every KEYFRAME_S with SPS/PPS before it. Returns the
    packets (data, seconds, keyframe) and the frame size."""
    codec = av.CodecContext.create("libx264", "w")
    packets: list[tuple[bytes, float, bool]] = []
    with av.open(str(src)) as inp:
        stream = inp.streams.video[0]
        step = max(1, round(float(stream.average_rate or 30) / rate))
        codec.width, codec.height, codec.pix_fmt = stream.width, stream.height, "yuv420p"
        codec.framerate, codec.time_base = rate, 1 / rate
        codec.bit_rate = kbps * 1000
        codec.gop_size = round(KEYFRAME_S * rate)
        codec.max_b_frames = 0  # frames leave in display order, as a phone's encoder sends them
        codec.options = {
            "preset": "veryfast",
            "tune": "zerolatency",
            "profile": "baseline",
            "sc_threshold": "0",  # keyframes only every KEYFRAME_S, not at scene cuts
            "keyint_min": str(codec.gop_size),
        }
        chosen = (f for i, f in enumerate(inp.decode(stream)) if i % step == 0)
        for i, frame in enumerate(itertools.chain(chosen, [None])):  # None: flush
            if frame is not None:
                frame = frame.reformat(format="yuv420p")
                frame.pts, frame.time_base = i, 1 / rate
            for packet in codec.encode(frame):
                assert packet.pts is not None
                packets.append((bytes(packet), float(packet.pts / rate), packet.is_keyframe))
    return packets, (codec.width, codec.height)


# -- the server ------------------------------------------------------------------------


class ServerProcess:
    """`badminton serve` in a child process, with an empty data folder of its own."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = {
            **os.environ,
            "DATA_DIR": str(data_dir),
            "HOST": "127.0.0.1",
            # Past the server's own limit on purpose: the benchmark shows what overload does.
            "MAX_LIVE_SESSIONS": "64",
            "MAX_LIVE_SESSIONS_PER_USER": "64",  # one account streams from every phone
            # The embedded database and storage, and no STUN/TURN: loopback only.
            **dict.fromkeys(
                ("DATABASE_URL", "S3_BUCKET", "REDIS_URL", "STUN_URLS", "TURN_URLS"), ""
            ),
        }
        self._log = log_path.open("wb")
        command = [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port)]
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.pid = self.process.pid

    async def wait_ready(self, http: aiohttp.ClientSession, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}): {self.tail()}")
            with contextlib.suppress(aiohttp.ClientError):
                async with http.get(f"{self.url}/api/v1/health") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
        raise RuntimeError(f"the server did not answer within {timeout_s:.0f} s: {self.tail()}")

    def cpu_seconds(self) -> float:
        """User + system time of the server process, all its threads."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def memory_mb(self, key: str = "VmRSS") -> float:
        """The server's resident memory now (VmRSS) or at its peak so far (VmHWM)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024  # kB
        return math.nan

    def tail(self, lines: int = 15) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """Terminates the server (it ends what is still live) and waits for it."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Api:
    """The REST API as one signed-in user."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url = http, url
        self.headers: dict[str, str] = {}

    async def sign_up(self, email: str) -> None:
        body = await self.call(
            "POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD}
        )
        self.headers = {"Authorization": f"Bearer {body['token']}"}

    async def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        async with self.http.request(
            method, self.url + path, json=body, headers=self.headers
        ) as response:
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: {response.status} {await response.text()}")
            return await response.json()


# -- the phones ------------------------------------------------------------------------


class StampedTrack(MediaStreamTrack):
    """Passes a track's packets on and notes when each was handed to the sender."""

    kind = "video"

    def __init__(self, source: MediaStreamTrack) -> None:
        super().__init__()
        self.source = source
        self.sent_times: list[float] = []  # stream seconds, increasing
        self.sent_at: list[float] = []  # monotonic time of each

    async def recv(self) -> Any:
        packet = await self.source.recv()
        assert isinstance(packet, av.Packet) and packet.pts is not None and packet.time_base
        self.sent_times.append(float(packet.pts * packet.time_base))
        self.sent_at.append(time.monotonic())
        return packet

    def handed_at(self, stream_time: float, tolerance: float) -> float | None:
        """When the packet of `stream_time` (seconds from the first) was sent, if it was."""
        i = bisect.bisect_left(self.sent_times, stream_time - tolerance)
        if i < len(self.sent_times) and abs(self.sent_times[i] - stream_time) <= tolerance:
            return self.sent_at[i]
        return None

    def stop(self) -> None:
        super().stop()
        self.source.stop()


class Publisher:
    """One phone: a session, its H.264 track sent as encoded, and the results received."""

    def __init__(self, api: Api, video: Path) -> None:
        self.api = api
        self.player = MediaPlayer(str(video), decode=False)
        assert self.player.video is not None, "no H.264 video in the prepared file"
        self.track = StampedTrack(self.player.video)
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.channel = self.pc.createDataChannel("results")
        self.opened = asyncio.Event()
        self.channel.on("open", self.opened.set)
        self.analysing = asyncio.Event()  # set by the first stats update
        self.received: list[tuple[float, dict[str, Any]]] = []  # monotonic arrival, message
        self.session_id = ""

        @self.channel.on("message")
        def on_message(data: str) -> None:
            message = json.loads(data)
            self.received.append((time.monotonic(), message))
            if message.get("type") == "stats_update":
                self.analysing.set()

        sender = self.pc.addTrack(self.track)
        # Only H.264 can carry the file's packets without re-encoding them.
        h264 = [
            c
            for c in RTCRtpSender.getCapabilities("video").codecs
            if c.mimeType.lower() == "video/h264"
        ]
        next(t for t in self.pc.getTransceivers() if t.sender is sender).setCodecPreferences(h264)

    async def start(self, quality: str, corners: dict[str, Any], size: tuple[int, int]) -> None:
        created = await self.api.call(
            "POST", "/api/v1/stream/create", {"quality": quality, "name": "bench"}
        )
        self.session_id = created["id"]
        base = f"/api/v1/stream/{self.session_id}"
        await self.api.call(
            "POST", f"{base}/setup-court", {"court": corners, "frame_size": list(size)}
        )
        await self.api.call("POST", f"{base}/start")

    async def connect(self, timeout_s: float = 30.0) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        offer = {"sdp": self.pc.localDescription.sdp, "type": self.pc.localDescription.type}
        answer = await self.api.call("POST", f"/api/v1/stream/{self.session_id}/offer", offer)
        await self.pc.setRemoteDescription(RTCSessionDescription(**answer))
        await asyncio.wait_for(self.opened.wait(), timeout_s)

    async def status(self) -> dict[str, Any] | None:
        body = await self.api.call("GET", f"/api/v1/stream/{self.session_id}/status")
        return body.get("live")

    async def record(self) -> None:
        await self.api.call("POST", f"/api/v1/stream/{self.session_id}/recording/start")

    async def end(self) -> None:
        await self.api.call("POST", f"/api/v1/stream/{self.session_id}/end")

    async def close(self) -> None:
        self.track.stop()
        await self.pc.close()

    def first_stats_time(self) -> float | None:
        """The timestamp of the first stats update: the server's first analysed frame, which
        should be the first frame sent (stream time 0)."""
        return next((m["timestamp"] for _, m in self.received if m["type"] == "stats_update"), None)

    def round_trips(self, tolerance: float) -> list[tuple[float, float]]:
        """(arrival, seconds) per analysed frame: from the frame handed to the sender to the
        first message about it."""
        first: dict[float, float] = {}
        for arrival, message in self.received:
            if message["type"] in FRAME_MESSAGES and message.get("timestamp") is not None:
                first.setdefault(round(message["timestamp"], 3), arrival)
        out = []
        for stream_time, arrival in first.items():
            sent = self.track.handed_at(stream_time, tolerance)
            if sent is not None:
                out.append((arrival, arrival - sent))
        return out


# -- one run ---------------------------------------------------------------------------


@dataclass
class Sample:
    """The server's state at one moment of a run (t: seconds since streaming started)."""

    t: float
    cpu_s: float
    rss_mb: float
    live: list[dict[str, Any] | None]  # each session's status "live" part


@dataclass
class LoadRun:
    n: int
    seconds: float
    started: float  # monotonic time when every stream had its first results
    rss_idle_mb: float
    warmup_s: float = math.nan  # from every stream connected to every one's first results
    hwm_mb: float = math.nan
    end_s: float = math.nan
    client_cores: float = math.nan
    other_cores: float | None = None
    lost: int = 0  # phones whose connection the server dropped during the run (overload)
    samples: list[Sample] = field(default_factory=list)
    publishers: list[Publisher] = field(default_factory=list)


async def run_load(
    n: int,
    seconds: float,
    video: Path,
    quality: str,
    court: tuple[dict[str, Any], tuple[int, int]],
    tmp: Path,
    record: bool = False,
) -> LoadRun:
    """Streams `video` from `n` phones to a fresh server for `seconds`, each in a session of
    `quality` on `court` (corners, and the frame size they are marked on), recording every
    stream throughout with `record`; returns all that was measured. Raises RuntimeError, with
    the end of the server's log, when it fails."""
    name = f"{n}-recording" if record else str(n)
    server = ServerProcess(tmp / f"data-{name}", tmp / f"server-{name}.log")
    publishers: list[Publisher] = []
    try:
        async with aiohttp.ClientSession() as http:
            await server.wait_ready(http)
            api = Api(http, server.url)
            await api.sign_up(f"bench{n}@example.com")
            run = LoadRun(n, seconds, 0.0, rss_idle_mb=server.memory_mb())
            publishers = [Publisher(api, video) for _ in range(n)]
            for publisher in publishers:
                await publisher.start(quality, *court)
            await asyncio.gather(*(p.connect() for p in publishers))
            run.publishers = publishers
            # Measured from when every analysis runs: loading the models (seconds, more with
            # several at once) would otherwise fill the first minute's latency and hide a
            # growth after it.
            connected = time.monotonic()
            analysing = asyncio.gather(*(p.analysing.wait() for p in publishers))
            await asyncio.wait_for(analysing, WARMUP_TIMEOUT_S)
            if record:
                await asyncio.gather(*(p.record() for p in publishers))
            run.started = time.monotonic()
            run.warmup_s = run.started - connected
            with measure() as usage:
                await _sample(run, server)
                while (elapsed := time.monotonic() - run.started) < seconds:
                    await asyncio.sleep(min(POLL_S, seconds - elapsed))
                    await _sample(run, server)
            # A phone whose track ended lost its connection: an overloaded server answers
            # ICE consent checks too late. Counted, not fatal: that is what overload looks like.
            run.lost = sum(p.track.source.readyState != "live" for p in publishers)
            server_cores = (run.samples[-1].cpu_s - run.samples[0].cpu_s) / usage.wall
            run.client_cores = usage.cores
            if usage.machine_busy is not None:
                run.other_cores = max(0.0, usage.machine_busy - usage.cores - server_cores)
            run.hwm_mb = server.memory_mb("VmHWM")
            ending = time.monotonic()
            await asyncio.gather(*(p.end() for p in publishers))
            run.end_s = time.monotonic() - ending
            return run
    except Exception as exc:
        raise RuntimeError(f"live run with {n} streams failed: {exc}\n{server.tail()}") from exc
    finally:
        for publisher in publishers:
            await publisher.close()
        server.stop()


async def _sample(run: LoadRun, server: ServerProcess) -> None:
    live = [await p.status() for p in run.publishers]
    t = time.monotonic() - run.started
    run.samples.append(Sample(t, server.cpu_seconds(), server.memory_mb(), live))
