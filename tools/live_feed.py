"""A labelled clip streamed to the server's live analysis as a phone streams it.

The clip's frames reach the server's own `LiveAnalysis` in real time at the quality preset's
rate, as video frames with their stream times; the analysis takes the newest frame whenever
it is free, exactly as it does for a WebRTC track (frames it is too busy for are dropped).
What it sends back, revisions included, and its final report are collected.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from analysis.court import Court
from analysis.trained import TrainedModels
from analysis.video import DecodedFrame, iter_frames, probe
from server.live.analysis import LiveAnalysis
from tools.training import stream_frames

TIME_BASE = Fraction(1, 90_000)  # the RTP video clock


class ClipTrack(MediaStreamTrack):
    """A video track playing a file's frames at `fps` in real time (decoded off the loop)."""

    kind = "video"

    def __init__(self, path: Path, fps: float, go: asyncio.Event | None = None) -> None:
        """`go`: the first frame waits for it (the phone starts once the server is ready)."""
        super().__init__()
        self._go = go
        self._frames: Iterator[DecodedFrame] = (
            frame for frame, fed in stream_frames(iter_frames(path), fps) if fed
        )
        self._started: float | None = None

    async def recv(self) -> VideoFrame:
        if self._go is not None:
            await self._go.wait()
        decoded = await asyncio.to_thread(next, self._frames, None)
        if decoded is None:
            self.stop()
            raise MediaStreamError
        if self._started is None:
            self._started = time.monotonic() - decoded.time
        delay = self._started + decoded.time - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        frame = VideoFrame.from_ndarray(decoded.image, format="bgr24")
        frame.pts = round(decoded.time / TIME_BASE)
        frame.time_base = TIME_BASE
        return frame


@dataclass
class LiveRun:
    messages: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] | None = None
    analysed: int = 0
    received: int = 0


async def _stream(
    path: Path, court: Court, fps: float, pose_fps: float, models: TrainedModels | None
) -> LiveRun:
    info = probe(path)
    run = LiveRun()
    done = asyncio.Event()

    async def publish(messages: list[dict[str, Any]]) -> None:
        run.messages.extend(messages)

    analysis = LiveAnalysis(
        court, (info.width, info.height), publish, pose_fps=pose_fps, name=path.stem, models=models
    )
    go = asyncio.Event()
    track = ClipTrack(path, fps, go)
    track.on("ended", done.set)
    analysis.start(track)
    # A live session loads its analyzer when it starts, before the phone sends a frame.
    await analysis.ready()
    go.set()
    await done.wait()
    # Let the analysis take the last frame before ending it, as a phone's last frame is.
    await asyncio.sleep(0.5)
    messages, report = await analysis.finish()
    run.messages.extend(messages)
    run.report = report
    run.analysed, run.received = analysis.analysed.count, analysis.received.count
    return run


def stream_clip(
    path: Path,
    court: Court,
    fps: float,
    pose_fps: float,
    models: TrainedModels | None = None,
) -> LiveRun:
    """Streams a clip to a live analysis at `fps` in real time; what came back."""
    return asyncio.run(_stream(path, court, fps, pose_fps, models))
