"""Cached tracks stand for what a live stream's analysis has: its fed frames, its poses."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from analysis.court import Court
from analysis.trackers import CourtTrackers
from tests.videos import courtless_video
from tools import cache, shuttle_train, track_cache
from tools.dataset import Clip
from tools.training import live_pose_fps, stream_frames

SIZE = (320, 180)
FILE_FPS = 30.0


def _file_times(seconds: float) -> np.ndarray:
    return np.arange(round(seconds * FILE_FPS)) / FILE_FPS


def _fed(times: np.ndarray, stream_fps: float) -> np.ndarray:
    frames = [SimpleNamespace(time=float(t)) for t in times]
    return np.array([fed for _, fed in stream_frames(frames, stream_fps)])


@pytest.mark.parametrize("stream_fps", [None, 15.0, 10.0])
def test_players_are_posed_on_the_frames_a_live_stream_poses(tmp_path, monkeypatch, stream_fps):
    """A stream's poses are tracked on its own frames, not borrowed from the file's: a pose
    tracker follows a player from one posed frame to the next."""
    monkeypatch.setattr(cache, "CACHE_ROOT", tmp_path / "cache")
    video = tmp_path / "rally.mp4"
    courtless_video(video, frames=round(FILE_FPS), size=SIZE, fps=round(FILE_FPS))
    corners = {
        "far_left": [100, 50],
        "far_right": [220, 50],
        "near_right": [280, 170],
        "near_left": [40, 170],
    }
    clip = Clip("rally", "test", "match", video, np.zeros((0, 3)), corners)
    times = _file_times(1.0)
    if stream_fps is None:
        fed = np.ones(len(times), dtype=bool)
        pose_fps = track_cache.POSE_FPS
    else:
        fed = _fed(times, stream_fps)
        pose_fps = live_pose_fps(stream_fps)
    court = Court.from_mapping(corners, SIZE)
    trackers = CourtTrackers(court, SIZE, pose_fps=pose_fps)
    blank = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    expected = []
    try:
        for frame in np.flatnonzero(fed):
            if trackers.update(blank, int(frame), float(times[frame])).players is not None:
                expected.append(int(frame))
    finally:
        trackers.close()

    posed = np.flatnonzero(track_cache.players(clip, stream_fps)["posed"]).tolist()
    assert posed == expected
    assert len(posed) == pytest.approx(min(stream_fps or FILE_FPS, pose_fps), abs=1)


def _other_stream_frames(frames, stream_fps):
    """A different choice of a stream's frames: every frame."""
    return ((frame, True) for frame in frames)


def test_a_new_choice_of_fed_frames_tracks_and_collects_again(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "CACHE_ROOT", tmp_path / "cache")
    video = tmp_path / "rally.mp4"
    video.write_bytes(b"not decoded here")
    clip = Clip("rally", "test", "match", video, np.zeros((0, 3)))
    runs = []

    def compute(*args):
        runs.append(args[1])
        return {"x": np.zeros(1)}

    monkeypatch.setattr(track_cache, "_track_shuttle", compute)
    monkeypatch.setattr(shuttle_train, "_collect", compute)
    scorer = shuttle_train._neutral_scorer()

    def both() -> None:
        track_cache.shuttle(clip, 10.0, scorer)
        shuttle_train.candidates(clip, 10.0)

    both()
    both()
    assert len(runs) == 2  # once each, then from the cache
    monkeypatch.setattr(track_cache, "stream_frames", _other_stream_frames)
    monkeypatch.setattr(shuttle_train, "stream_frames", _other_stream_frames)
    both()
    assert len(runs) == 4  # neither came from the old frames' cache
