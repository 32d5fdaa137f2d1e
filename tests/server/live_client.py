"""An aiortc publisher for tests and benchmarks: sends a real clip as a camera would, at a
chosen frame rate in real time, and collects the messages that come back."""

from __future__ import annotations

import asyncio
import fractions
import json
import time
from pathlib import Path
from typing import Any

import av
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.mediastreams import MediaStreamError

TIME_BASE = fractions.Fraction(1, 90_000)


class ClipTrack(VideoStreamTrack):
    """The frames of a video file at `fps` frames per second of wall time, like a camera.

    `sent_at[t]` is when the frame of stream time t (seconds from the first) was handed to
    the encoder, for measuring round trips. With `loop`, the clip starts over at its end.
    """

    def __init__(self, path: Path, fps: float, loop: bool = False) -> None:
        super().__init__()
        self.path, self.fps, self.loop = path, fps, loop
        self.frames = self._decode()
        self.sent_at: dict[float, float] = {}
        self.done = asyncio.Event()
        self._count = 0
        self._start: float | None = None

    def _decode(self):
        with av.open(str(self.path)) as container:
            stream = container.streams.video[0]
            step = max(1, round(float(stream.average_rate) / self.fps))
            return [f for i, f in enumerate(container.decode(stream)) if i % step == 0]

    async def recv(self) -> av.VideoFrame:
        if self._start is None:
            self._start = time.monotonic()
        index = self._count
        if index >= len(self.frames):
            if not self.loop:
                self.done.set()
                self.stop()
                raise MediaStreamError
            index %= len(self.frames)
        due = self._start + self._count / self.fps
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        source = self.frames[index]
        frame = av.VideoFrame.from_ndarray(source.to_ndarray(format="yuv420p"), format="yuv420p")
        frame.pts = round(self._count / self.fps / TIME_BASE)
        frame.time_base = TIME_BASE
        self.sent_at[round(self._count / self.fps, 3)] = time.monotonic()
        self._count += 1
        return frame


class LiveClient:
    """One WebRTC peer (publisher or viewer) on loopback with a results data channel."""

    def __init__(
        self, track: ClipTrack | None = None, configuration: RTCConfiguration | None = None
    ) -> None:
        self.pc = RTCPeerConnection(configuration or RTCConfiguration(iceServers=[]))
        self.track = track
        self.messages: list[dict[str, Any]] = []
        self.received_at: list[float] = []
        self.video_frames = 0
        self.channel = self.pc.createDataChannel("results")
        self.channel_open = asyncio.Event()
        self.channel.on("open", self.channel_open.set)

        @self.channel.on("message")
        def on_message(data: str) -> None:
            self.messages.append(json.loads(data))
            self.received_at.append(time.monotonic())

        if track is not None:
            self.pc.addTrack(track)
        else:
            self.pc.addTransceiver("video", direction="recvonly")

            @self.pc.on("track")
            def on_track(remote) -> None:
                asyncio.ensure_future(self._count_frames(remote))

    async def _count_frames(self, remote) -> None:
        while True:
            try:
                await remote.recv()
            except MediaStreamError:
                return
            self.video_frames += 1

    async def offer(self) -> dict[str, str]:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return {"sdp": self.pc.localDescription.sdp, "type": self.pc.localDescription.type}

    async def accept(self, answer: dict[str, str]) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(**answer))

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    def shots(self) -> list[dict[str, Any]]:
        """The shots as a page shows them: every revision received applied, in time order."""
        shots: dict[int, dict[str, Any]] = {}
        for m in self.messages:
            if m["type"] in ("shot_detected", "shot_updated"):
                shots[m["shot_id"]] = m
            elif m["type"] == "shot_removed":
                shots.pop(m["shot_id"], None)
        return sorted(shots.values(), key=lambda m: m["timestamp"])

    async def close(self) -> None:
        await self.pc.close()
