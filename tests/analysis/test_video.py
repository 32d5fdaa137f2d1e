"""Video decoding: real clips of each codec, generated clips, rotation, and broken files."""

from __future__ import annotations

import csv
import gc
import inspect
import logging
import shutil
import signal
import subprocess
import weakref
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from analysis.video import DecodedFrame, VideoError, iter_frames, probe
from tests.conftest import require

# Upright test picture: a grey background whose level encodes the frame number, and a
# white block in the top-left corner that shows the orientation.
W, H = 96, 64
FPS = 10


def _level(i: int) -> int:
    return 20 + 10 * i


def _upright(i: int) -> np.ndarray:
    img = np.full((H, W, 3), _level(i), np.uint8)
    img[: H // 3, : W // 4] = 255
    return img


# Counter-clockwise display rotation -> the OpenCV turn that stores an upright picture so
# that a player rotating it by the display matrix shows it upright again.
_STORE = {90: cv2.ROTATE_90_CLOCKWISE, -90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180}


def _write_clip(
    path: Path, codec: str = "libx264", frames: int = 12, ccw: int = 0, audio: bool = False
) -> Path:
    """Encodes `frames` test pictures, stored turned so that `ccw` display rotation undoes it."""
    options = {"x265-params": "log-level=none"} if codec == "libx265" else {}
    stored = [
        _upright(i) if not ccw else cv2.rotate(_upright(i), _STORE[ccw]) for i in range(frames)
    ]
    with av.open(str(path), "w") as out:
        video = out.add_stream(codec, rate=FPS, options=options)
        video.height, video.width = stored[0].shape[:2]
        video.pix_fmt = "yuv420p"
        if ccw:
            video.set_display_rotation(ccw)
        sound = out.add_stream("aac", rate=48000, layout="mono") if audio else None
        for i, img in enumerate(stored):
            out.mux(video.encode(av.VideoFrame.from_ndarray(img, format="bgr24")))
            if sound is not None:
                _mux_audio(out, sound, i)
        out.mux(video.encode())
        if sound is not None:
            out.mux(sound.encode())
    return path


def _mux_audio(out, sound, i: int) -> None:
    """One video frame's worth of a quiet tone."""
    samples = 48000 // FPS
    t = (np.arange(samples) + i * samples) / 48000
    frame = av.AudioFrame.from_ndarray(
        (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None], format="fltp", layout="mono"
    )
    frame.sample_rate, frame.pts, frame.time_base = 48000, i * samples, Fraction(1, 48000)
    out.mux(sound.encode(frame))


@pytest.fixture
def deadline():
    """Fails a test that runs for more than 60 s instead of letting it hang."""

    def on_alarm(signum, frame):
        raise TimeoutError("decoding took more than 60 s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


# --- real clips ------------------------------------------------------------------------

REAL = [
    ("aicup2023_rallies/videos/00001.mp4", "h264", 1280, 720, 30.0),
    ("aicup2023_rallies/videos/00039.mp4", "h264", 1280, 720, 30.0),
    ("phone_smash_sideview/3.mp4", "hevc", 1920, 1080, 30000 / 1001),
    ("shuttleset_denmark2019/1_01_01.mp4", "mpeg4", 1280, 720, 25.0),
    ("portrait_smash/jump_smash_portrait_720x1280.mp4", "h264", 720, 1280, 30.0),
    ("tracknetv2_tiny/1_10_12.mp4", "h264", 1920, 1080, 25.0),
]


@pytest.mark.parametrize("rel, codec, width, height, fps", REAL)
def test_real_clip_decodes_whole_and_upright(shared_data, rel, codec, width, height, fps):
    path = shared_data / rel
    info = probe(path)
    assert (info.codec, info.width, info.height, info.rotation) == (codec, width, height, 0)
    assert info.fps == pytest.approx(fps)
    count, last = 0, None
    for frame in iter_frames(path):
        assert frame.index == count
        assert frame.image.shape == (height, width, 3)
        assert frame.image.dtype == np.uint8 and frame.image.flags.c_contiguous
        count, last = count + 1, frame
    # The header's frame count comes from the container's sample table, not from decoding.
    assert count == info.frames
    assert last.time == pytest.approx((count - 1) / fps, abs=0.5 / fps)
    assert info.duration == pytest.approx(count / fps, abs=1.5 / fps)


def _label_rows(path: Path) -> int:
    with path.open(newline="") as fh:
        return sum(1 for _ in csv.DictReader(fh))


@pytest.mark.parametrize(
    "video, labels",
    [
        ("aicup2023_rallies/videos/00002.mp4", "aicup2023_rallies/shuttle_labels/00002_ball.csv"),
        ("aicup2023_rallies/videos/00004.mp4", "aicup2023_rallies/shuttle_labels/00004_ball.csv"),
        ("aicup2023_rallies/videos/00039.mp4", "aicup2023_rallies/shuttle_labels/00039_ball.csv"),
        ("shuttleset_denmark2019/1_00_01.mp4", "shuttleset_denmark2019/set_1_00_01.csv"),
        ("tracknetv2_tiny/1_10_12.mp4", "tracknetv2_tiny/1_10_12.csv"),
    ],
)
def test_frame_numbering_matches_per_frame_labels(shared_data, video, labels):
    """Label files have one row per frame, so frame indices line up with label numbers."""
    assert sum(1 for _ in iter_frames(shared_data / video)) == _label_rows(shared_data / labels)


def test_audio_track_is_ignored_on_a_real_portrait_clip(shared_data):
    path = shared_data / "portrait_smash" / "jump_smash_portrait_720x1280.mp4"
    with av.open(str(path)) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
    first = next(iter_frames(path))
    assert first.index == 0 and first.time == 0.0  # the stream itself starts at pts 512


# --- generated clips -------------------------------------------------------------------


@pytest.mark.parametrize(
    "encoder, codec", [("libx264", "h264"), ("libx265", "hevc"), ("mpeg4", "mpeg4")]
)
def test_generated_clip_frames_in_order_with_times(tmp_path, encoder, codec):
    path = _write_clip(tmp_path / "clip.mp4", encoder, frames=12)
    info = probe(path)
    assert (info.codec, info.width, info.height, info.frames, info.fps) == (codec, W, H, 12, FPS)
    frames = list(iter_frames(path))
    assert [f.index for f in frames] == list(range(12))
    assert [f.time for f in frames] == pytest.approx([i / FPS for i in range(12)])
    for f in frames:
        background = f.image[H // 2 :, W // 2 :].astype(float).mean()
        assert background == pytest.approx(_level(f.index), abs=6), "frames out of order"


def test_generated_clip_with_audio_decodes_only_video(tmp_path):
    path = _write_clip(tmp_path / "av.mp4", frames=10, audio=True)
    with av.open(str(path)) as container:
        assert {s.type for s in container.streams} == {"video", "audio"}
    assert [f.index for f in iter_frames(path)] == list(range(10))


@pytest.mark.parametrize("ccw, applied_cw", [(90, 270), (-90, 90), (180, 180)])
def test_rotation_metadata_gives_upright_frames(tmp_path, ccw, applied_cw):
    path = _write_clip(tmp_path / "rotated.mp4", frames=3, ccw=ccw)
    with av.open(str(path)) as container:
        stored = container.streams.video[0]
        stored_size = (stored.width, stored.height)
    info = probe(path)
    assert info.rotation == applied_cw
    assert (info.width, info.height) == (W, H)
    assert stored_size == ((H, W) if ccw % 180 else (W, H))
    for frame in iter_frames(path):
        assert frame.image.shape == (H, W, 3) and frame.image.flags.c_contiguous
        diff = np.abs(frame.image.astype(int) - _upright(frame.index)).mean()
        assert diff < 3, f"frame {frame.index} not upright (mean difference {diff:.1f})"


def test_rotation_matches_ffmpeg_autorotate(tmp_path):
    """The ffmpeg command line (its own FFmpeg build) turns the clip the same way."""
    ffmpeg = shutil.which("ffmpeg")
    require(ffmpeg is not None, "ffmpeg is not installed (apt-get install ffmpeg)")
    path = _write_clip(tmp_path / "rotated.mp4", frames=1, ccw=-90)
    raw = subprocess.run(
        [
            ffmpeg,
            "-v",
            "error",
            "-i",
            str(path),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "bgr24",
            "-",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    ours = next(iter_frames(path)).image
    theirs = np.frombuffer(raw, np.uint8).reshape(ours.shape)
    assert np.abs(ours.astype(int) - theirs).mean() < 2


def test_fast_colour_conversion_matches_swscale(shared_data):
    """The OpenCV path for BT.601 yuv420p gives what FFmpeg's own converter gives."""
    path = shared_data / "aicup2023_rallies" / "videos" / "00001.mp4"
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        assert frame.format.name == "yuv420p"
        reference = frame.to_ndarray(format="bgr24").astype(int)
    ours = next(iter_frames(path)).image
    assert np.abs(ours - reference).mean() < 2
    assert np.abs(ours - reference).max() < 24


def test_one_decoder_thread_gives_the_same_frames(shared_data):
    """The batch analysis decodes on one thread; the frames are those of threaded decoding."""
    path = shared_data / "aicup2023_rallies" / "videos" / "00039.mp4"
    threaded = list(iter_frames(path))
    single = list(iter_frames(path, threaded=False))
    assert [(f.index, f.time) for f in single] == [(f.index, f.time) for f in threaded]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(single, threaded, strict=True))


# --- memory ----------------------------------------------------------------------------


def test_iterator_holds_no_frames(shared_data):
    path = shared_data / "aicup2023_rallies" / "videos" / "00039.mp4"
    frames = iter_frames(path)
    assert inspect.isgenerator(frames)
    refs, most_alive = [], 0
    for frame in frames:
        refs.append(weakref.ref(frame.image))
        del frame
        gc.collect()
        most_alive = max(most_alive, sum(ref() is not None for ref in refs))
    assert len(refs) == 91
    assert most_alive <= 1, f"{most_alive} images kept alive while iterating"


def test_stopping_early_closes_the_file(shared_data):
    path = shared_data / "aicup2023_rallies" / "videos" / "00004.mp4"
    frames = iter_frames(path)
    first = next(frames)
    assert isinstance(first, DecodedFrame) and first.index == 0
    frames.close()
    with pytest.raises(StopIteration):
        next(frames)


# --- broken files ----------------------------------------------------------------------


def _audio_only(tmp_path: Path) -> Path:
    path = tmp_path / "voice.m4a"
    with av.open(str(path), "w", format="mp4") as out:
        sound = out.add_stream("aac", rate=48000, layout="mono")
        for i in range(5):
            _mux_audio(out, sound, i)
        out.mux(sound.encode())
    return path


def _cut_in_half(shared_data: Path, tmp_path: Path, rel: str) -> Path:
    data = (shared_data / rel).read_bytes()
    path = tmp_path / "half.mp4"
    path.write_bytes(data[: len(data) // 2])
    return path


BROKEN = {
    "missing": (lambda d, t: t / "nope.mp4", "nope.mp4: file not found"),
    "directory": (lambda d, t: t, "is a directory"),
    "empty": (lambda d, t: _touch(t / "empty.mp4"), "empty.mp4: the file is empty"),
    "text": (lambda d, t: _text(t / "notes.mp4"), "notes.mp4: not a video file"),
    "random": (lambda d, t: _random(t / "noise.mp4"), "noise.mp4: not a video file"),
    "audio only": (lambda d, t: _audio_only(t), "has no video stream (streams found: audio)"),
    "h264 cut": (
        lambda d, t: _cut_in_half(d, t, "aicup2023_rallies/videos/00001.mp4"),
        "half.mp4: damaged or incomplete MP4 file",
    ),
    "hevc cut": (
        lambda d, t: _cut_in_half(d, t, "phone_smash_sideview/3.mp4"),
        "half.mp4: damaged or incomplete MP4 file",
    ),
}


def _touch(path: Path) -> Path:
    path.touch()
    return path


def _text(path: Path) -> Path:
    path.write_text("Shopping list\nshuttles, grip tape\n" * 20)
    return path


def _noise(seed: int, size: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, np.uint8).tobytes()


def _random(path: Path) -> Path:
    path.write_bytes(_noise(7, 200_000))
    return path


@pytest.mark.parametrize("case", list(BROKEN))
@pytest.mark.parametrize("call", ["probe", "iter_frames"])
def test_broken_file_gives_one_line_error(shared_data, tmp_path, deadline, case, call):
    make, fragment = BROKEN[case]
    path = make(shared_data, tmp_path)
    with pytest.raises(VideoError) as caught:
        if call == "probe":
            probe(path)
        else:
            list(iter_frames(path))
    message = str(caught.value)
    assert fragment in message
    assert "\n" not in message and message.startswith(path.name)


def test_corrupt_bytes_midway_are_skipped_and_logged(shared_data, tmp_path, deadline, caplog):
    """Damage in the middle costs the frames around it, not the rest of the video."""
    data = bytearray((shared_data / "aicup2023_rallies" / "videos" / "00001.mp4").read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4096] = _noise(1, 4096)
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(data)
    assert probe(path).frames == 317  # the header is intact
    with caplog.at_level(logging.WARNING, logger="analysis.video"):
        decoded = [frame.index for frame in iter_frames(path)]
    assert decoded == list(range(len(decoded)))
    assert 250 < len(decoded) <= 317
    assert "corrupt.mp4: skipped" in caplog.text and "damaged packet" in caplog.text


def test_a_stream_of_garbage_stops_with_video_error(shared_data, tmp_path, deadline):
    data = bytearray((shared_data / "aicup2023_rallies" / "videos" / "00001.mp4").read_bytes())
    start, index = len(data) // 5, data.rfind(b"moov") - 4
    assert index > start  # the index sits at the end: damage everything between
    data[start:index] = _noise(7, index - start)
    path = tmp_path / "garbage.mp4"
    path.write_bytes(data)
    decoded = []
    with pytest.raises(VideoError, match=r"^garbage\.mp4: corrupt video data at frame \d+"):
        for frame in iter_frames(path):
            decoded.append(frame.index)
    assert 0 < len(decoded) < 317


@pytest.mark.parametrize(
    "rel", ["phone_smash_sideview/3.mp4", "shuttleset_denmark2019/1_01_01.mp4"]
)
def test_corrupt_bytes_never_escape_as_raw_errors(shared_data, tmp_path, deadline, rel):
    """HEVC and MPEG-4 decoders conceal damage: glitchy frames, or a VideoError, nothing else."""
    data = bytearray((shared_data / rel).read_bytes())
    header_frames = probe(shared_data / rel).frames
    for start in (len(data) // 3, len(data) // 2):
        data[start : start + 4096] = _noise(start, 4096)
    path = tmp_path / "corrupt.mp4"
    path.write_bytes(data)
    count = 0
    try:
        for frame in iter_frames(path):
            assert frame.image.dtype == np.uint8
            count += 1
    except VideoError as e:
        assert "corrupt video data" in str(e)
    assert count <= header_frames


def test_truncated_file_with_index_first_ends_early_with_warning(shared_data, tmp_path, caplog):
    """A cut MP4 whose index precedes the data plays up to the cut; that is logged."""
    src = shared_data / "aicup2023_rallies" / "videos" / "00001.mp4"
    whole = tmp_path / "faststart.mp4"
    with (
        av.open(str(src)) as inp,
        av.open(str(whole), "w", options={"movflags": "faststart"}) as out,
    ):
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(video=0):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    data = whole.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])

    assert probe(cut).frames == 317
    with caplog.at_level(logging.WARNING, logger="analysis.video"):
        count = sum(1 for _ in iter_frames(cut))
    assert 0 < count < 317
    assert f"ended after {count} of the 317 frames" in caplog.text
