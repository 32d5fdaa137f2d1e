"""Recording a live stream to a fragmented MP4 on local disk.

Fragmented MP4 (an empty `moov` up front, then self-contained fragments) stays playable up
to the last complete fragment whatever happens to the process, unlike a plain MP4 whose
index is written only when it is closed. Fragments start at keyframes, about every 2 s.

When the phone sends H.264, `H264Recorder` writes its frames as they came (nothing decoded or
encoded: the analysis keeps its cores), asking the phone for a keyframe every 2 s. Other
codecs (VP8) fall back to `Mp4Recorder`, which encodes the decoded frames with libx264 in
its own thread; frames that arrive while it is busy are skipped (the track is an
unbuffered relay), so neither recorder ever holds up the stream.
"""

from __future__ import annotations

import asyncio
import fractions
import io
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from server.live.encoded import EncodedFrame, EncodedVideo

log = logging.getLogger(__name__)

TIME_BASE = fractions.Fraction(1, 90_000)
KEYFRAME_INTERVAL_S = 2.0
# Each fragment reaches the file as soon as it is complete: without flush_packets FFmpeg keeps
# up to 256 KiB in its write buffer, half a minute of a Low stream that a crash would lose
# and that the copy to storage (server/live/recording_pieces.py) could not see yet.
FRAGMENTED = {"movflags": "frag_keyframe+empty_moov+default_base_moof", "flush_packets": "1"}


class Recorder(Protocol):
    """What a live session needs of a recorder, whichever way it records."""

    path: Path
    frames: int

    @property
    def start_time(self) -> float | None: ...

    @property
    def duration(self) -> float: ...

    def start(self) -> None: ...

    async def stop(self) -> int: ...


class Mp4Recorder:
    """Encodes a track's decoded frames to H.264 (for streams in other codecs)."""

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


# H.264 NAL unit types (ITU-T H.264 table 7-1).
IDR, SPS, PPS = 5, 7, 8
START_CODE = b"\x00\x00\x01"
# Frames waiting for the writer thread (a few seconds of video). Past that the disk is not
# keeping up: frames are dropped and the file resumes at the next keyframe.
MAX_PENDING = 120
KEYFRAME_CHECK_S = 0.5


def nal_types(data: bytes) -> set[int]:
    """The NAL unit types in an Annex B frame (start codes cannot occur inside a unit)."""
    types = set()
    at = data.find(START_CODE)
    while at != -1 and at + 3 < len(data):
        types.add(data[at + 3] & 0x1F)
        at = data.find(START_CODE, at + 3)
    return types


class H264Recorder:
    """Writes the phone's H.264 frames into a fragmented MP4 as they came.

    The file starts at the first keyframe that carries its SPS and PPS. Frames arrive on the
    event loop and are written by a thread of the recorder's own. After a gap (the phone
    reconnected, or frames were dropped) the file resumes at the next keyframe, with time
    running on one frame after the last one written.
    """

    def __init__(
        self,
        path: Path,
        video: EncodedVideo,
        clock: Callable[[int], float | None] | None = None,
    ) -> None:
        """`clock`: the stream time (s) of a frame of the current connection from its 90 kHz
        timestamp (the decoded frames carry the same timestamps)."""
        self.path = path
        self.frames = 0
        self._video = video
        self._clock = clock
        self._start_time: float | None = None
        self._queue: queue.SimpleQueue[tuple[int, EncodedFrame] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"recorder-{path.stem}", daemon=True)
        self._received = 0  # frames offered, dropped ones included (their index is skipped)
        self._keyframes_task: asyncio.Task[None] | None = None
        self._stopped = False
        # Writer thread state; `_synced` and `_last_keyframe` are also read on the loop.
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._synced = False  # False until a keyframe after a gap, or at the start
        self._last_keyframe = -math.inf  # monotonic time
        self._expected = 0  # index of the next frame without a gap
        self._connection: int | None = None
        self._offset: int | None = None  # added to the connection's timestamps
        self._last_pts: int | None = None
        self._step = 3000  # one frame at 30 fps, until measured

    @property
    def start_time(self) -> float | None:
        """Stream time (s) of the first frame written: time zero of the recording."""
        return self._start_time

    @property
    def duration(self) -> float:
        """Seconds from the first frame written to the last."""
        return float((self._last_pts or 0) * TIME_BASE)

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._thread.start()
        self._video.subscribe(self._offer)
        self._keyframes_task = asyncio.create_task(
            self._ask_for_keyframes(), name=f"record-{self.path.name}"
        )

    async def stop(self) -> int:
        """Stops recording and closes the file; returns the number of frames written."""
        if self._stopped:
            return self.frames
        self._stopped = True
        self._video.unsubscribe(self._offer)
        if self._keyframes_task is not None:
            self._keyframes_task.cancel()
            await asyncio.gather(self._keyframes_task, return_exceptions=True)
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)
        return self.frames

    def _offer(self, frame: EncodedFrame) -> None:
        """On the event loop: hands the frame to the writer thread, or drops it."""
        index, self._received = self._received, self._received + 1
        if self._queue.qsize() < MAX_PENDING:
            self._queue.put((index, frame))

    async def _ask_for_keyframes(self) -> None:
        """Keyframes start fragments: one at the start, then at least every 2 s."""
        while True:
            waited = time.monotonic() - self._last_keyframe
            if not self._synced or waited >= KEYFRAME_INTERVAL_S:
                await self._video.request_keyframe()
            await asyncio.sleep(KEYFRAME_CHECK_S)

    def _run(self) -> None:
        try:
            while (item := self._queue.get()) is not None:
                try:
                    self._write(*item)
                except Exception:
                    log.exception("recording %s: a frame could not be written", self.path.name)
                    self._synced = False
        finally:
            self._close()

    def _write(self, index: int, frame: EncodedFrame) -> None:
        if index != self._expected or frame.connection != self._connection:
            self._synced = False  # what follows may refer to frames the file lacks
        self._expected = index + 1
        if frame.connection != self._connection:
            self._connection, self._offset = frame.connection, None
        types = nal_types(frame.data)
        keyframe = IDR in types
        if not self._synced:
            if not keyframe or (self._container is None and not {SPS, PPS} <= types):
                return
            self._synced = True
        if keyframe:
            self._last_keyframe = time.monotonic()
        if self._container is None:
            self._open(frame.data)
            if self._clock is not None:
                self._start_time = self._clock(frame.timestamp)
        assert self._container is not None and self._stream is not None
        if self._offset is None:  # a connection's first frame: one frame after the last
            start = 0 if self._last_pts is None else self._last_pts + self._step
            self._offset = start - frame.timestamp
        pts = frame.timestamp + self._offset
        if self._last_pts is not None:
            if pts <= self._last_pts:
                pts = self._last_pts + 1
            else:
                self._step = min(pts - self._last_pts, 90_000)
        self._last_pts = pts
        packet = av.Packet(frame.data)
        packet.stream = self._stream
        packet.pts = packet.dts = pts
        packet.time_base, packet.duration = TIME_BASE, self._step
        packet.is_keyframe = keyframe
        self._container.mux(packet)
        self.frames += 1

    def _open(self, keyframe: bytes) -> None:
        """Opens the file with the stream's parameters (size, SPS/PPS) read by FFmpeg from
        the first keyframe."""
        with av.open(io.BytesIO(keyframe), format="h264") as probe:
            container = av.open(str(self.path), mode="w", format="mp4", options=FRAGMENTED)
            stream = container.add_stream_from_template(probe.streams.video[0])
        stream.time_base = TIME_BASE
        self._container, self._stream = container, stream

    def _close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
