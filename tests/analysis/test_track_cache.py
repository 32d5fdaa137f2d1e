"""The frames a live stream at a lower rate delivers, as training and evaluation pick them."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tools.training import rate_name, stream_frames


@dataclass(frozen=True)
class _Frame:
    index: int
    time: float


def frames(fps: float, n: int) -> list[_Frame]:
    return [_Frame(i, i / fps) for i in range(n)]


@pytest.mark.parametrize(
    ("stream_fps", "expected"),
    [(None, list(range(12))), (15.0, [0, 2, 4, 6, 8, 10]), (10.0, [0, 3, 6, 9])],
)
def test_stream_delivers_the_first_frame_of_each_tick(stream_fps, expected):
    fed = [f.index for f, ok in stream_frames(frames(30, 12), stream_fps) if ok]
    assert fed == expected


def test_a_stream_faster_than_the_file_gets_every_frame():
    assert all(ok for _, ok in stream_frames(frames(10, 8), 30.0))


def test_every_frame_is_reported_once_in_order():
    seen = [f.index for f, _ in stream_frames(frames(29.97, 50), 12.0)]
    assert seen == list(range(50))


def test_rate_names():
    assert rate_name(None) == "file"
    assert rate_name(10.0) == "10 fps"
    assert rate_name(12.5) == "12.5 fps"
