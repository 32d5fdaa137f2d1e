"""Recording a live track to a fragmented MP4 on local disk.

Fragmented MP4 (an empty `moov` up front, then self-contained fragments) stays playable up
to the last complete fragment whatever happens to the process, unlike a plain MP4 whose
index is written only when it is closed. Fragments start at keyframes, one every 2 s.
Encoding runs in its own thread; frames that arrive while it is busy are skipped (the
track is an unbuffered relay), so the recorder never holds up the stream.
"""

from __future__ import annotations

import asyncio
import fractions
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

log = logging.getLogger(__name__)

TIME_BASE = fractions.Fraction(1, 90_000)
KEYFRAME_INTERVAL_S = 2.0
FRAGMENTED = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}


class Mp4Recorder:
    def __init__(self, path: Path, track: MediaStreamTrack, fps: float = 30.0) -> None:
        self.path = path
        self.fps = fps
        self.frames = 0
        self._track = track
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorder")
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._first_pts: int | None = None
        self._last_pts = -1
        self._task: asyncio.Task[None] | None = None
        self._stopped = False

    @property
    def start_time(self) -> float | None:
        """Stream time (s) of the first frame written: time zero of the recording."""
        return None if self._first_pts is None else float(self._first_pts * TIME_BASE)

    @property
    def duration(self) -> float:
        """Seconds from the first frame written to the last."""
        return float(max(0, self._last_pts) * TIME_BASE)

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._task = asyncio.create_task(self._run(), name=f"record-{self.path.name}")

    async def stop(self) -> int:
        """Stops recording and closes the file; returns the number of frames written."""
        if self._stopped:
            return self.frames
        self._stopped = True
        self._track.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=False)
        return self.frames

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                frame = await self._track.recv()
            except MediaStreamError:
                return
            try:
                await loop.run_in_executor(self._executor, self._write, frame)
            except Exception:
                log.exception("recording %s: a frame could not be written", self.path.name)

    def _write(self, frame: VideoFrame) -> None:
        if self._container is None:
            self._open(frame.width, frame.height)
        assert self._stream is not None and self._container is not None
        pts = int((frame.time or 0.0) / TIME_BASE)
        if self._first_pts is None:
            self._first_pts = pts
        pts -= self._first_pts
        if pts <= self._last_pts:
            return
        self._last_pts = pts
        image = frame.reformat(
            width=self._stream.width, height=self._stream.height, format="yuv420p"
        )
        image.pts, image.time_base = pts, TIME_BASE
        for packet in self._stream.encode(image):
            self._container.mux(packet)
        self.frames += 1

    def _open(self, width: int, height: int) -> None:
        self._container = av.open(str(self.path), mode="w", format="mp4", options=FRAGMENTED)
        stream = self._container.add_stream("libx264", rate=round(self.fps))
        stream.width, stream.height = width - width % 2, height - height % 2
        stream.pix_fmt = "yuv420p"
        stream.time_base = TIME_BASE
        stream.codec_context.time_base = TIME_BASE
        stream.options = {
            "preset": "veryfast",
            "tune": "zerolatency",
            "crf": "23",
            "g": str(round(self.fps * KEYFRAME_INTERVAL_S)),
        }
        self._stream = stream

    def _close(self) -> None:
        if self._container is None:
            return
        assert self._stream is not None
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()
            self._container = None
