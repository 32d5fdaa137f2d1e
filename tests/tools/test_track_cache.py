"""Cached tracks stand for what a live stream's analysis has: its fed frames, its poses."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from analysis.court import Court
from analysis.trackers import CourtTrackers
from tools import cache, shuttle_train, track_cache
from tools.dataset import Clip
from tools.track_cache import live_pose_frames, posed_live
from tools.training import stream_frames

SIZE = (320, 180)
FILE_FPS = 30.0


def _file_times(seconds: float) -> np.ndarray:
    return np.arange(round(seconds * FILE_FPS)) / FILE_FPS


def _fed(times: np.ndarray, stream_fps: float) -> np.ndarray:
    frames = [SimpleNamespace(time=float(t)) for t in times]
    return np.array([fed for _, fed in stream_frames(frames, stream_fps)])


@pytest.mark.parametrize("stream_fps,pose_fps", [(15.0, 10.0), (10.0, 10.0), (25.0, 7.0)])
def test_live_pose_frames_are_the_ones_the_trackers_pose(stream_fps, pose_fps):
    times = _file_times(2.0)
    fed = _fed(times, stream_fps)
    blank = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    court = Court.from_corners([(100, 50), (220, 50), (280, 170), (40, 170)], SIZE)
    trackers = CourtTrackers(court, SIZE, pose_fps=pose_fps)
    posed = []
    try:
        for frame in np.flatnonzero(fed):
            if trackers.update(blank, int(frame), float(times[frame])).players is not None:
                posed.append(int(frame))
    finally:
        trackers.close()
    assert live_pose_frames(fed, times, pose_fps).tolist() == posed
    # The stream's rate and the pose rate both hold: 15 fps at 10 poses/s poses 2 frames in 3.
    assert len(posed) == pytest.approx(2.0 * min(stream_fps, pose_fps), abs=1)


def test_a_live_stream_keeps_only_the_poses_it_would_have():
    times = _file_times(1.0)
    n = len(times)
    cached = np.zeros(n, dtype=bool)
    cached[::2] = True  # posed 15 times a second
    landmarks = np.full((n, 33, 3), np.nan)
    landmarks[cached] = np.arange(cached.sum())[:, None, None]
    players = {
        "size": np.array(SIZE),
        "times": times,
        "posed": cached,
        "near_landmarks": landmarks,
        "near_court_xy": np.where(cached[:, None], 1.0, np.nan) * np.ones((n, 2)),
    }
    fed = _fed(times, 10.0)  # frames 0, 3, 6, ...
    live = posed_live(players, fed, times, 10.0)

    kept = np.flatnonzero(live["posed"])
    # Each pose frame of the stream takes the cached pose at or just before it.
    assert kept.tolist() == [0, 2, 6, 8, 12, 14, 18, 20, 24, 26]
    assert np.isnan(live["near_landmarks"][4]).all()
    assert live["near_landmarks"][6, 0, 0] == landmarks[6, 0, 0]
    assert np.isnan(live["near_court_xy"][~live["posed"]]).all()
    assert not np.isnan(live["near_court_xy"][live["posed"]]).any()
    # What every rate shares is left alone.
    assert live["times"] is times and live["size"] is players["size"]
    assert players["posed"].sum() == 15  # the cached arrays are not changed


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
