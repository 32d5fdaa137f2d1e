"""The live analysis: the newest frame of a stream goes through a FrameAnalyzer in a worker
thread; frames that arrive while it is busy replace each other, so latency never builds up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from analysis.court import Court
from analysis.frame_analyzer import FrameAnalyzer
from analysis.frame_rate import MAX_ANALYSIS_FPS, FrameRateCap
from analysis.trained import TrainedModels
from server.metrics import LIVE_FRAMES, LIVE_LATENCY

log = logging.getLogger(__name__)

Messages = list[dict[str, Any]]
ASPECT_TOLERANCE = 0.03  # frames whose shape differs more than this cannot use the court


class FrameShapeError(ValueError):
    """The camera's picture no longer has the shape the court was marked on."""


@dataclass(frozen=True)
class LatencyStats:
    p50_ms: float | None
    p95_ms: float | None
    samples: int


class RateMeter:
    """Events per second and latency percentiles over a sliding window."""

    def __init__(self, window_s: float = 60.0) -> None:
        self.window_s = window_s
        self.count = 0
        self._samples: deque[tuple[float, float]] = deque()

    def add(self, value: float = 0.0, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.count += 1
        self._samples.append((now, value))
        while self._samples and self._samples[0][0] < now - self.window_s:
            self._samples.popleft()

    def rate(self, over_s: float = 5.0, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        recent = sum(1 for t, _ in self._samples if t >= now - over_s)
        return recent / over_s

    def percentiles(self) -> LatencyStats:
        values = [v for _, v in self._samples]
        if not values:
            return LatencyStats(None, None, 0)
        p50, p95 = np.percentile(values, [50, 95])
        return LatencyStats(round(float(p50), 1), round(float(p95), 1), len(values))


class LiveAnalysis:
    """Analyses a live video track frame by frame, always the newest frame.

    `start(track)` reads the track continuously (so nothing queues up inside aiortc) and
    keeps only the newest frame; a worker thread analyses one frame at a time and hands the
    resulting protocol messages to `publish` on the event loop. `finish()` ends it and gives
    the last messages and the report.
    """

    def __init__(
        self,
        court: Court,
        frame_size: tuple[int, int],
        publish: Callable[[Messages], Awaitable[None]],
        *,
        pose_fps: float = 10.0,
        max_fps: float = MAX_ANALYSIS_FPS,
        name: str = "live",
        models: TrainedModels | None = None,
    ) -> None:
        """`models`: the trained parts of the analysis (the shipped ones by default)."""
        self.court = court
        self.frame_size = frame_size
        self.publish = publish
        self.pose_fps = pose_fps
        self._rate_cap = FrameRateCap(max_fps)
        self.name = name
        self.models = models
        self.received = RateMeter()
        self.analysed = RateMeter()
        self.latency = RateMeter()
        self.dropped = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"analysis-{name}")
        self._analyzer: FrameAnalyzer | None = None
        self._analyzer_pose_fps = pose_fps
        self._latest: tuple[VideoFrame, float] | None = None
        self._new_frame = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._warming: Future[FrameAnalyzer] | None = None
        self._first_time: float | None = None
        self._shape_error_sent = False
        self._finished = False

    def set_pose_fps(self, pose_fps: float) -> None:
        """A new pose rate, taken up by the worker at its next frame."""
        self.pose_fps = pose_fps

    @property
    def last_timestamp(self) -> float | None:
        """Stream time of the newest analysed frame."""
        last = self._rate_cap.last
        return round(last, 3) if last is not None else None

    @property
    def stream_start(self) -> float | None:
        """Track time (s) of the first frame received: time zero of the session's results."""
        return self._first_time

    def start(self, track: MediaStreamTrack) -> None:
        # The pose model takes a second or two to load: done now, not on the first frame.
        self._warming = self._executor.submit(self._create_analyzer)
        self._tasks = [
            asyncio.create_task(self._read(track), name=f"read-{self.name}"),
            asyncio.create_task(self._work(), name=f"analyse-{self.name}"),
        ]

    async def ready(self) -> None:
        """Returns once the analyzer is loaded (after `start`)."""
        if self._warming is not None:
            await asyncio.wrap_future(self._warming)

    async def finish(self) -> tuple[Messages, dict[str, Any] | None]:
        """Stops reading, finishes the analysis; the final messages and the report (None when
        no frame was ever analysed)."""
        if self._finished:
            return [], None
        self._finished = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._finish)
        finally:
            self._executor.shutdown(wait=False)

    # -- on the event loop -------------------------------------------------------------------

    async def _read(self, track: MediaStreamTrack) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.received.add()
            if self._first_time is None:
                # Stream time counts from the first frame received, analysed or not.
                self._first_time = float(frame.time or 0.0)
            if self._latest is not None:
                self.dropped += 1  # the worker was busy: the newer frame wins
            self._latest = (frame, time.monotonic())
            self._new_frame.set()

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._new_frame.wait()
            self._new_frame.clear()
            if self._latest is None:
                continue
            frame, received_at = self._latest
            self._latest = None
            try:
                messages = await loop.run_in_executor(self._executor, self._analyse, frame)
            except FrameShapeError as exc:
                if not self._shape_error_sent:
                    self._shape_error_sent = True
                    await self.publish(
                        [{"type": "error", "code": "frame_shape", "message": str(exc)}]
                    )
                continue
            except Exception:
                log.exception("stream %s: analysis of a frame failed", self.name)
                await self.publish(
                    [
                        {
                            "type": "error",
                            "code": "analysis",
                            "message": "a frame could not be analysed",
                        }
                    ]
                )
                continue
            if messages is None:
                continue
            latency_ms = (time.monotonic() - received_at) * 1000
            self.analysed.add()
            self.latency.add(latency_ms)
            LIVE_FRAMES.inc()
            LIVE_LATENCY.observe(latency_ms / 1000)
            if messages:
                await self.publish(messages)

    # -- in the worker thread ------------------------------------------------------------

    def _analyse(self, frame: VideoFrame) -> Messages | None:
        assert self._first_time is not None
        t = float(frame.time or 0.0) - self._first_time
        if not self._rate_cap.admits(t):
            return None  # faster than the analysis takes
        image = self._fit(frame.to_ndarray(format="bgr24"))
        analyzer = self._create_analyzer()
        if self.pose_fps != self._analyzer_pose_fps:
            analyzer.set_pose_fps(self.pose_fps)
            self._analyzer_pose_fps = self.pose_fps
        return [event.to_message() for event in analyzer.process(image, t)]

    def _create_analyzer(self) -> FrameAnalyzer:
        if self._analyzer is None:
            self._analyzer_pose_fps = self.pose_fps
            self._analyzer = FrameAnalyzer(
                self.court, self.frame_size, pose_fps=self.pose_fps, models=self.models
            )
        return self._analyzer

    def _fit(self, image: np.ndarray) -> np.ndarray:
        """The frame at the size the court was marked on (WebRTC lowers the resolution when
        bandwidth drops; the picture keeps its shape)."""
        h, w = image.shape[:2]
        width, height = self.frame_size
        if (w, h) == (width, height):
            return image
        if abs(w / h - width / height) > ASPECT_TOLERANCE * width / height:
            raise FrameShapeError(
                f"the camera now sends {w}x{h} frames but the court was marked on "
                f"{width}x{height}: mark the court again (was the phone turned?)"
            )
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)

    def _finish(self) -> tuple[Messages, dict[str, Any] | None]:
        if self._analyzer is None or self.analysed.count == 0:
            if self._analyzer is not None:
                self._analyzer.close()
            return [], None
        with contextlib.closing(self._analyzer):
            messages = [event.to_message() for event in self._analyzer.finish()]
            return messages, self._analyzer.report()
