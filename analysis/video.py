"""Video files -> upright BGR frames, one at a time.

Decodes any file FFmpeg can read (MP4/MOV/MKV/WebM/AVI with H.264, HEVC, MPEG-4 Part 2,
VP9, ...) through PyAV. Only the main video stream is demuxed and decoded; audio is
skipped. Phone videos store their orientation as a display matrix instead of rotating the
pixels; frames are turned upright here, so everything downstream sees what a player shows.

Every failure to read a file surfaces as `VideoError` whose message is one line naming the
file. A file that ends early without a decoding error (e.g. an MP4 with its index at the
front whose data was cut short) yields the frames that are there and logs a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

log = logging.getLogger(__name__)

# Packets in a row that fail to decode before a stream counts as broken (~5 s at 30 fps).
MAX_BAD_PACKETS = 150

# Clockwise rotation to apply -> the OpenCV operation that applies it.
_CV2_ROTATE = {
    90: cv2.ROTATE_90_CLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_COUNTERCLOCKWISE,
}

# AVColorSpace values OpenCV's BT.601 conversion matches: unspecified, BT470BG, SMPTE170M.
_BT601_SPACES = (2, 5, 6)
# AVColorRange values meaning limited ("TV") range: unspecified, MPEG.
_LIMITED_RANGES = (0, 1)


class VideoError(Exception):
    """A file that is not a readable video: missing, not a video, corrupt or truncated.

    `str(error)` is one line fit to show a user.
    """


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds, as the frames from `iter_frames` will show it."""

    path: str
    width: int  # upright size, i.e. after rotation
    height: int
    fps: float
    frames: int  # best estimate from the header (the exact count needs a full decode)
    duration: float  # seconds
    codec: str  # FFmpeg decoder name: "h264", "hevc", "mpeg4", ...
    rotation: int  # clockwise degrees applied to make frames upright: 0, 90, 180 or 270


@dataclass(frozen=True)
class DecodedFrame:
    """One decoded frame."""

    index: int  # 0-based count of decoded frames, the numbering frame labels use
    time: float  # seconds since the first frame
    image: np.ndarray  # HxWx3 BGR uint8, upright, C-contiguous


def probe(path: str | Path) -> VideoInfo:
    """Reads a file's header and decodes its first frame.

    Decoding one frame proves the file is playable and reveals the rotation, which
    FFmpeg attaches to decoded frames. Raises `VideoError`.
    """
    path = Path(path)
    with _open(path) as container:
        stream = _video_stream(container, path)
        frame = next(_decode(container, stream, path), None)
        if frame is None:
            raise VideoError(f"{path.name}: the video stream has no decodable frames")
        rotation = _rotation_cw(frame)
        upright_w, upright_h = (
            (frame.height, frame.width) if rotation % 180 else (frame.width, frame.height)
        )
        duration = _duration(container, stream)
        fps = _fps(stream, duration)
        frames = stream.frames or round(duration * fps)
        return VideoInfo(
            path=str(path),
            width=upright_w,
            height=upright_h,
            fps=fps,
            frames=frames,
            duration=duration,
            codec=stream.codec_context.name,
            rotation=rotation,
        )


def iter_frames(path: str | Path, *, threaded: bool = True) -> Iterator[DecodedFrame]:
    """Yields every frame of the file's video stream, upright, in display order.

    A generator holding one frame at a time, so memory stays flat for any length. The
    file is opened on the first `next()`, which is also when opening errors are raised.
    Raises `VideoError`, including for corrupt data part-way through.

    `threaded` lets FFmpeg decode on several threads: faster alone, but a caller whose own
    threads keep every core busy spends less CPU per frame on one decoder thread.
    """
    path = Path(path)
    with _open(path) as container:
        stream = _video_stream(container, path, threaded)
        fps = _fps(stream, _duration(container, stream))
        start: float | None = None
        index = -1
        for index, frame in enumerate(_decode(container, stream, path)):
            if index == 0:
                start = frame.time
            if frame.time is not None and start is not None:
                time = frame.time - start
            else:  # no timestamps: assume a constant rate
                time = index / fps if fps else 0.0
            try:
                image = _upright_bgr(frame)
            except (av.error.FFmpegError, ValueError) as e:  # a pixel format with no BGR path
                raise VideoError(
                    f"{path.name}: cannot convert frame {index} ({frame.format.name}) to BGR "
                    f"({_reason(e)})"
                ) from e
            yield DecodedFrame(index=index, time=time, image=image)
        if stream.frames and index + 1 < stream.frames:
            log.warning(
                "%s: ended after %d of the %d frames its header lists; the file may be truncated",
                path.name,
                index + 1,
                stream.frames,
            )


def _open(path: Path) -> InputContainer:
    """Opens a file for reading, turning every failure into a `VideoError`."""
    if not path.exists():
        raise VideoError(f"{path.name}: file not found")
    if path.is_dir():
        raise VideoError(f"{path.name}: is a directory, not a video file")
    if path.stat().st_size == 0:
        raise VideoError(f"{path.name}: the file is empty")
    try:
        return av.open(str(path), mode="r")
    except av.error.InvalidDataError as e:
        if _looks_like_mp4(path):
            raise VideoError(
                f"{path.name}: damaged or incomplete MP4 file (its index cannot be read; "
                "was it cut short?)"
            ) from e
        raise VideoError(f"{path.name}: not a video file, or a format that cannot be read") from e
    except (av.error.FFmpegError, OSError) as e:
        raise VideoError(f"{path.name}: cannot be opened ({_reason(e)})") from e


def _looks_like_mp4(path: Path) -> bool:
    """True when the file starts with an ISO-BMFF `ftyp` box (MP4, MOV, 3GP)."""
    with path.open("rb") as f:
        return f.read(8)[4:8] == b"ftyp"


def _video_stream(container: InputContainer, path: Path, threaded: bool = True) -> VideoStream:
    """The main video stream, set up for (threaded) decoding; every other stream is skipped."""
    videos = [
        s
        for s in container.streams.video
        if not s.disposition & av.stream.Disposition.attached_pic  # cover art, not video
    ]
    if not videos:
        found = ", ".join(sorted({s.type for s in container.streams})) or "none"
        raise VideoError(f"{path.name}: has no video stream (streams found: {found})")
    best = container.streams.best("video")
    stream = best if best in videos else videos[0]
    if stream.codec_context is None:
        raise VideoError(f"{path.name}: unsupported video codec '{stream.codec.name}'")
    for other in container.streams:
        if other is not stream:
            other.discard = av.stream.Discard.all  # the demuxer skips their packets
    if threaded:
        stream.thread_type = "AUTO"  # frame and slice threads: several times faster on H.264
    else:
        stream.thread_type = "NONE"
        stream.codec_context.thread_count = 1
    return stream


def _decode(container: InputContainer, stream: VideoStream, path: Path) -> Iterator[VideoFrame]:
    """Decoded frames of `stream`, packet by packet.

    A damaged packet is skipped (the decoder picks up again at the next clean one, at the
    latest the next keyframe) and the damage is logged once at the end: a glitch in an hour of
    video should cost a second of analysis, not the whole match. Only a stream with nothing
    decodable for `MAX_BAD_PACKETS` packets in a row raises `VideoError`. Damage the demuxer
    cannot read past ends the video early, like a truncated file, once frames have come out.
    """
    packets = container.demux(stream)
    count = bad = in_a_row = 0
    first_error = ""
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            break
        except av.error.FFmpegError as e:
            if count == 0:
                raise VideoError(f"{path.name}: corrupt video data ({_reason(e)})") from e
            log.warning(
                "%s: unreadable data after frame %d (%s); the rest is skipped",
                path.name,
                count,
                _reason(e),
            )
            break
        try:
            frames = packet.decode()
        except av.error.FFmpegError as e:
            bad += 1
            in_a_row += 1
            first_error = first_error or _reason(e)
            if in_a_row >= MAX_BAD_PACKETS:
                raise VideoError(
                    f"{path.name}: corrupt video data at frame {count} ({first_error})"
                ) from e
            continue
        in_a_row = 0
        for frame in frames:
            count += 1
            yield frame
    if bad:
        log.warning(
            "%s: skipped %d damaged packet(s) (%s); %d frames decoded",
            path.name,
            bad,
            first_error,
            count,
        )
    elif count == 0:
        raise VideoError(f"{path.name}: the video stream has no decodable frames")


def _upright_bgr(frame: VideoFrame) -> np.ndarray:
    """The frame as a C-contiguous BGR array, rotated as its display matrix asks."""
    image = _to_bgr(frame)
    rotation = _rotation_cw(frame)
    if rotation:
        return cv2.rotate(image, _CV2_ROTATE[rotation])
    return np.ascontiguousarray(image)


def _to_bgr(frame: VideoFrame) -> np.ndarray:
    """The frame's pixels as BGR, possibly a strided view that skips row padding."""
    if (
        frame.format.name == "yuv420p"
        and frame.colorspace in _BT601_SPACES
        and frame.color_range in _LIMITED_RANGES
        and frame.width % 2 == 0
        and frame.height % 2 == 0
    ):
        # OpenCV's converter is ~1.5x faster than swscale and computes the same BT.601
        # limited-range transform (chroma upsampling differs by ~1 level).
        return cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2BGR_I420)
    return frame.to_ndarray(format="bgr24")  # swscale honours other colorspaces and ranges


def _rotation_cw(frame: VideoFrame) -> int:
    """Clockwise degrees (0/90/180/270) that turn the frame upright.

    `frame.rotation` is the counter-clockwise angle of the display matrix, in
    [-180, 180]; odd angles are rounded to the nearest quarter turn.
    """
    return (-round(frame.rotation / 90) * 90) % 360


def _duration(container: InputContainer, stream: VideoStream) -> float:
    """Seconds, from the stream header, else the container's; 0.0 when neither knows."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def _fps(stream: VideoStream, duration: float) -> float:
    """Frames per second from the stream's rates, else its frame count over its duration."""
    for rate in (stream.average_rate, stream.guessed_rate):
        if rate:
            return float(rate)
    if stream.frames and duration > 0:
        return stream.frames / duration
    return 0.0


def _reason(error: Exception) -> str:
    """FFmpeg's message without its errno and file name decorations."""
    return getattr(error, "strerror", None) or str(error) or type(error).__name__
