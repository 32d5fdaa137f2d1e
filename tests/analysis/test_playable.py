"""The browser-playable copy: which videos need one, its size, and a copy of a generated
MPEG-4 Part 2 phone clip (turned by its display matrix, with sound) frame by frame."""

from __future__ import annotations

import av
import numpy as np
import pytest

from analysis.playable import copy_size, is_browser_playable, make_playable, pixel_format
from analysis.video import iter_frames, probe
from tests.analysis.test_video import FPS, H, W, _level, _write_clip


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((1280, 720), (1280, 720)),
        ((1920, 1080), (1280, 720)),
        ((3840, 2160), (1280, 720)),
        ((1080, 1920), (720, 1280)),  # portrait stays portrait
        ((640, 480), (640, 480)),  # never scaled up
        ((1440, 1080), (960, 720)),  # 4:3
        ((2560, 1080), (1280, 540)),  # wider than 16:9: the long side limits
        ((1281, 721), (1280, 720)),
        ((321, 241), (320, 240)),  # even, as 4:2:0 needs
    ],
)
def test_copy_size_fits_720p_keeping_the_aspect_ratio(size, expected):
    assert copy_size(*size) == expected


@pytest.mark.parametrize(
    ("codec", "playable"), [("libx264", True), ("mpeg4", False), ("libx265", False)]
)
def test_only_h264_is_playable_as_it_is(tmp_path, codec, playable):
    path = _write_clip(tmp_path / "clip.mp4", codec=codec, frames=3)
    assert is_browser_playable(probe(path)) is playable


def test_h264_in_4_4_4_needs_a_copy(tmp_path):
    path = tmp_path / "444.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv444p"
        for i in range(3):
            image = np.full((H, W, 3), _level(i), np.uint8)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(stream.encode())
    info = probe(path)
    assert (info.codec, pixel_format(path)) == ("h264", "yuv444p")
    assert not is_browser_playable(info)


def test_copy_of_a_turned_mpeg4_clip_is_upright_h264_without_sound(tmp_path):
    source = _write_clip(tmp_path / "phone.mp4", codec="mpeg4", frames=30, ccw=90, audio=True)
    original = probe(source)
    assert (original.width, original.height, original.rotation) == (W, H, 270)
    seen: list[float] = []

    frames = make_playable(original, tmp_path / "copy.mp4", progress=seen.append)

    copy = probe(tmp_path / "copy.mp4")
    assert frames == copy.frames == 30
    assert (copy.codec, pixel_format(copy.path), copy.rotation) == ("h264", "yuv420p", 0)
    assert (copy.width, copy.height) == (W, H)  # upright, as the analysis saw it
    assert copy.duration == pytest.approx(original.duration, abs=1 / FPS)
    with av.open(str(tmp_path / "copy.mp4")) as container:
        assert [s.type for s in container.streams] == ["video"]
    for want, got in zip(iter_frames(source), iter_frames(tmp_path / "copy.mp4"), strict=True):
        assert got.time == pytest.approx(want.time, abs=1e-3)
        # The same picture: the white block top left, the frame's grey level elsewhere.
        assert np.abs(got.image.astype(int) - want.image.astype(int)).mean() < 4
    assert seen == sorted(seen) and seen[-1] == 1.0 and len(seen) > 1
