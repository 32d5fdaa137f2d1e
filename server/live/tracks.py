"""The session's own video track, which outlives any one publisher connection."""

from __future__ import annotations

import asyncio
import fractions
from typing import cast

from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

VIDEO_TIME_BASE = fractions.Fraction(1, 90_000)  # RTP's video clock


class PublisherTrack(MediaStreamTrack):
    """Video from whichever publisher connection is current.

    Viewers, the recorder and the analysis subscribe to this track (through a MediaRelay),
    not to a peer connection's track, so a phone that reconnects after a network drop carries
    on feeding them. Timestamps stay increasing across reconnections: each new connection
    continues one frame after the last frame of the previous one.
    """

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self._upstream: MediaStreamTrack | None = None
        self._attached = asyncio.Event()
        self._offset: int | None = None  # added to the upstream pts of the current connection
        self._last_pts: int | None = None
        self._step = 3000  # one frame at 30 fps, in 90 kHz ticks, until measured

    def attach(self, track: MediaStreamTrack) -> None:
        """Makes `track` (a publisher connection's remote video) the source."""
        self._upstream = track
        self._offset = None
        self._attached.set()

    def time_of(self, upstream_pts: int) -> float | None:
        """Stream time (s) of a frame of the current connection, from its upstream pts
        (None until a frame of the connection has come through)."""
        offset = self._offset
        return None if offset is None else float((upstream_pts + offset) * VIDEO_TIME_BASE)

    def detach(self, track: MediaStreamTrack) -> None:
        if self._upstream is track:
            self._upstream = None
            self._attached.clear()

    async def recv(self) -> VideoFrame:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            upstream = self._upstream
            if upstream is None:
                await self._wait_for_publisher()
                continue
            try:
                frame = cast(VideoFrame, await upstream.recv())
            except MediaStreamError:
                self.detach(upstream)
                continue
            return self._retime(frame)

    def stop(self) -> None:
        super().stop()
        self._attached.set()  # wakes a waiting recv(), which then ends the track

    async def _wait_for_publisher(self) -> None:
        await self._attached.wait()

    def _retime(self, frame: VideoFrame) -> VideoFrame:
        pts = int(frame.pts or 0)
        if frame.time_base is not None and frame.time_base != VIDEO_TIME_BASE:
            pts = int(pts * frame.time_base / VIDEO_TIME_BASE)
        if self._offset is None:  # first frame of a connection: one frame after the last
            start = 0 if self._last_pts is None else self._last_pts + self._step
            self._offset = start - pts
        out = pts + self._offset
        if self._last_pts is not None:
            if out <= self._last_pts:
                out = self._last_pts + 1
            else:
                self._step = min(out - self._last_pts, 90_000)
        self._last_pts = out
        frame.pts, frame.time_base = out, VIDEO_TIME_BASE
        return frame
