"""A copy of a video that every browser plays: H.264 (8-bit 4:2:0) in an MP4 whose index is at
the front, so that it streams, at most 720p, upright, without audio.

Browsers play H.264 in MP4 everywhere, but not MPEG-4 Part 2, and HEVC or VP9 in MP4 only in
some. Videos in those codecs get a copy; the frames keep their timestamps, so times in the
report (taken from the original) point at the same frames in the copy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.frame import VideoFrame

from analysis import video
from analysis.video import VideoError, VideoInfo

log = logging.getLogger(__name__)

PLAYABLE_CODECS = ("h264",)
# 8-bit 4:2:0: what browsers' H.264 decoders take (not 4:2:2, 4:4:4 or 10-bit).
PLAYABLE_PIXEL_FORMATS = ("yuv420p", "yuvj420p")
MAX_LONG_SIDE, MAX_SHORT_SIDE = 1280, 720
# x264's "veryfast" preset keeps the copy a small share of a job; CRF 23 is its default
# quality, plenty for watching a rally.
X264_OPTIONS = {"preset": "veryfast", "crf": "23"}
PROGRESS_EVERY_FRAMES = 15


def is_browser_playable(info: VideoInfo) -> bool:
    """Whether browsers decode the video as it is: H.264 in 8-bit 4:2:0."""
    return info.codec in PLAYABLE_CODECS and pixel_format(info.path) in PLAYABLE_PIXEL_FORMATS


def pixel_format(path: str | Path) -> str:
    """The pixel format of the video's decoded frames: "yuv420p", "yuv420p10le", ..."""
    frame = next(decoded_frames(path), None)
    if frame is None:
        raise VideoError(f"{Path(path).name}: the video stream has no decodable frames")
    return frame.format.name


def decoded_frames(path: str | Path) -> Iterator[VideoFrame]:
    """The file's frames as PyAV decodes them: not yet upright, with their own timestamps;
    damaged packets are skipped as the analysis skips them (it uses the same decoding)."""
    path = Path(path)
    with video._open(path) as container:
        yield from video._decode(container, video._video_stream(container, path), path)


def copy_size(width: int, height: int) -> tuple[int, int]:
    """The copy's size for an upright `width` x `height` video: scaled down (never up) to fit
    1280x720, or 720x1280 when portrait, keeping the aspect ratio; even, as 4:2:0 needs."""
    long_side, short_side = max(width, height), min(width, height)
    scale = min(1.0, MAX_LONG_SIDE / long_side, MAX_SHORT_SIDE / short_side)
    return max(2, round(width * scale / 2) * 2), max(2, round(height * scale / 2) * 2)


def make_playable(
    info: VideoInfo, out: str | Path, progress: Callable[[float], None] | None = None
) -> int:
    """Writes the browser-playable copy of the video `info` describes to `out`; returns the
    number of frames written. Raises VideoError when the original cannot be read."""
    width, height = copy_size(info.width, info.height)
    expected = max(info.frames, 1)
    count = 0
    with av.open(str(out), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=_rate(info.fps), options=X264_OPTIONS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        timing = _Timing(info.fps)
        stream.codec_context.time_base = timing.time_base
        for frame in decoded_frames(info.path):
            pts = timing.pts(frame)
            if pts is None:
                continue  # a frame shown at the same moment as the one before
            copy = _upright(frame).reformat(width, height, "yuv420p")
            copy.pts, copy.time_base = pts, timing.time_base
            container.mux(stream.encode(copy))
            count += 1
            if progress is not None and count % PROGRESS_EVERY_FRAMES == 0:
                progress(min(count / expected, 1.0))
        container.mux(stream.encode(None))
    if count == 0:
        raise VideoError(f"{Path(info.path).name}: no frames to copy")
    log.info("%s: playable copy of %d frames at %dx%d", Path(info.path).name, count, width, height)
    if progress is not None:
        progress(1.0)
    return count


class _Timing:
    """Timestamps of the copy: the original's, counted from its first frame; for frames
    without any, a constant frame rate."""

    time_base = Fraction(1, 90_000)  # the MPEG clock: exact for 24, 25, 30 and 29.97 fps

    def __init__(self, fps: float) -> None:
        self.fps = fps or 30.0
        self.first: Fraction | None = None
        self.last: int | None = None
        self.index = 0

    def pts(self, frame: VideoFrame) -> int | None:
        """The frame's timestamp in `time_base`; None when it does not come after the last."""
        if frame.pts is not None and frame.time_base is not None:
            seconds = frame.pts * frame.time_base
        else:
            seconds = Fraction(self.index) / _rate(self.fps)
        self.index += 1
        if self.first is None:
            self.first = seconds
        pts = round((seconds - self.first) / self.time_base)
        if self.last is not None and pts <= self.last:
            return None
        self.last = pts
        return pts


def _rate(fps: float) -> Fraction:
    return Fraction(fps or 30.0).limit_denominator(1001)


def _upright(frame: VideoFrame) -> VideoFrame:
    """The frame turned as its display matrix asks (phone videos), else itself."""
    turns = video._rotation_cw(frame) // 90
    if not turns:
        return frame
    image = np.ascontiguousarray(np.rot90(frame.to_ndarray(format="rgb24"), k=-turns))
    return VideoFrame.from_ndarray(image, format="rgb24")
