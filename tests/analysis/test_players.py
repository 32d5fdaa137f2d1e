"""Player tracking on real broadcast rallies, the person-height model, and movement."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from analysis.court import COURT_LENGTH, COURT_WIDTH, NET_Y, Court
from analysis.players import (
    BACK_MARGIN_M,
    FAR_NET_MARGIN_M,
    NEAR_NET_MARGIN_M,
    SIDE_MARGIN_M,
    MovementTracker,
    PersonScale,
    PlayerObservation,
    PlayerTracker,
)
from tests.conftest import require
from tools.dataset import aicup_clips
from tools.foot_error import ClipResult, run_clip

# Two broadcasts with different cameras, 21 labelled hits between them.
CLIPS = ("00001", "00041")


@pytest.fixture(scope="module")
def tracked(shared_data: Path) -> list[ClipResult]:
    clips = {clip.name: clip for clip in aicup_clips(shared_data)}
    require(all(name in clips for name in CLIPS), f"clips {CLIPS} not found under {shared_data}")
    # Every 2nd frame: the 15 fps the analysis runs poses at.
    return [run_clip(clips[name], step=2) for name in CLIPS]


def _all(results: list[ClipResult], key: str, side: str) -> list[float]:
    return [value for r in results for value in getattr(r, key)[side]]


def test_players_are_found_at_the_labelled_hits(tracked: list[ClipResult]) -> None:
    hits = sum(r.hits for r in tracked)
    assert hits == 21
    # Measured: hitter 21/21, each player 21/21.
    assert sum(r.hitter_found for r in tracked) >= 0.9 * hits
    for side in ("near", "far"):
        assert sum(r.found[side] for r in tracked) >= 0.85 * hits


def test_foot_positions_match_the_labels(tracked: list[ClipResult]) -> None:
    # Labels mark one foot; the tracker reports the point between the feet. Measured medians:
    # between the feet 0.39 m (near) and 0.66 m (far); nearer foot 0.20 m and 0.36 m, 90th
    # percentile 0.38 m and 0.57 m.
    for side in ("near", "far"):
        assert np.median(_all(tracked, "errors", side)) < 0.8
        foot = _all(tracked, "foot_errors", side)
        assert np.median(foot) < 0.45
        assert np.percentile(foot, 90) < 0.9


def test_each_player_stays_on_its_half(tracked: list[ClipResult]) -> None:
    for result in tracked:
        for side, track in result.tracks.items():
            seen = [obs for obs in track.values() if obs is not None]
            assert len(seen) >= 0.9 * len(track)  # found in nearly every frame, not only at hits
            for obs in seen:
                assert obs.side == side
                x, y = obs.court_xy
                assert -SIDE_MARGIN_M <= x <= COURT_WIDTH + SIDE_MARGIN_M
                if side == "near":
                    assert NET_Y - NEAR_NET_MARGIN_M <= y <= COURT_LENGTH + BACK_MARGIN_M
                else:
                    assert -BACK_MARGIN_M <= y <= NET_Y + FAR_NET_MARGIN_M
                assert obs.feet_xy is not None and obs.feet_xy.shape == (2, 2)
                assert np.allclose(obs.feet_xy.mean(axis=0), obs.court_xy, atol=0.5)


def test_one_pose_call_per_player_per_frame(tracked: list[ClipResult]) -> None:
    # Searching costs more calls, but only while a player is lost. Measured: 1.00-1.01.
    for result in tracked:
        assert result.pose_calls <= 1.15 * 2 * result.frames


# --- person height from the court homography ---------------------------------------------

FRAME = (1280, 720)


def _camera(position: tuple[float, float, float], focal: float = 1100.0) -> np.ndarray:
    """3x4 projection of (x, y, height) court metres for a pinhole camera at `position`
    looking at the middle of the court, principal point at the frame centre."""
    centre = np.array(position)
    forward = np.array([COURT_WIDTH / 2, NET_Y, 0.0]) - centre
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    if right[0] < 0:  # court x runs to the right of the image
        right = -right
    down = np.cross(forward, right)
    if down[2] > 0:  # image y runs down, away from the ceiling
        down = -down
    k = np.array([[focal, 0.0, FRAME[0] / 2], [0.0, focal, FRAME[1] / 2], [0.0, 0.0, 1.0]])
    rotation = np.stack([right, down, forward])
    return k @ np.column_stack([rotation, -rotation @ centre])


def _project(projection: np.ndarray, points: np.ndarray) -> np.ndarray:
    h = np.column_stack([points, np.ones(len(points))]) @ projection.T
    return h[:, :2] / h[:, 2:3]


@pytest.mark.parametrize(
    "position", [(3.05, 20.0, 7.0), (3.05, 16.0, 4.0), (1.0, 19.0, 9.0), (5.0, 15.5, 3.0)]
)
def test_person_height_follows_the_camera_geometry(position: tuple[float, float, float]) -> None:
    projection = _camera(position)
    corners_m = np.array(
        [[0, 0, 0], [COURT_WIDTH, 0, 0], [COURT_WIDTH, COURT_LENGTH, 0], [0, COURT_LENGTH, 0]],
        dtype=float,
    )
    # Close cameras see the near corners outside the frame: no frame check here.
    court = Court.from_corners(_project(projection, corners_m))
    scale = PersonScale(court, FRAME)
    for x, y in [(0.5, 0.5), (3.05, 3.0), (5.5, 6.0), (1.0, 9.0), (3.05, 12.9), (-1.0, 15.0)]:
        base, top = _project(projection, np.array([[x, y, 0.0], [x, y, 1.75]]))
        expected = np.linalg.norm(top - base)
        assert scale.height_px(np.array([x, y])) == pytest.approx(expected, rel=0.01)


def test_person_height_falls_back_to_the_ground_scale_seen_from_above() -> None:
    # A camera straight above the court: no perspective, so no camera to recover.
    court = Court.from_corners([[100, 50], [405, 50], [405, 720], [100, 720]])
    scale = PersonScale(court, (600, 800))
    assert scale.height_px(np.array([3.0, 5.0])) == pytest.approx(1.75 * 50.0)


def test_person_height_on_a_broadcast_court(shared_data: Path) -> None:
    clip = next(c for c in aicup_clips(shared_data) if c.name == "00001")
    scale = PersonScale(Court.from_mapping(clip.corners, FRAME), FRAME)
    near, far = scale.height_px(np.array([3.0, 12.0])), scale.height_px(np.array([3.0, 1.0]))
    # Nose-to-feet of players measured on such clips: ~140 px near, ~100 px far.
    assert 130 < near < 220
    assert 90 < far < 160
    assert near > far


@pytest.mark.parametrize(
    ("side", "xy", "expected"),
    [
        ("near", (3.0, 12.0), True),
        ("near", (3.0, 14.9), True),  # behind the back line
        ("near", (3.0, 6.2), True),  # jumping at the net: feet in the air map beyond it
        ("near", (3.0, 4.0), False),
        ("near", (-2.0, 10.0), False),  # line judge
        ("near", (3.0, 17.0), False),  # photographers behind the court
        ("far", (3.0, 1.0), True),
        ("far", (6.8, 3.0), True),  # lunging wide
        ("far", (3.0, -1.5), True),
        ("far", (3.0, 7.2), False),  # the near player at the net
        ("far", (8.0, 5.0), False),  # umpire's chair
    ],
)
def test_plausible_feet(side: str, xy: tuple[float, float], expected: bool) -> None:
    court = Court.from_corners([[427, 384], [860, 382], [998, 667], [286, 670]], FRAME)
    tracker = PlayerTracker(court, side, FRAME)
    try:
        assert tracker.plausible_foot(np.array(xy)) is expected
    finally:
        tracker.close()


def test_tracker_rejects_an_unknown_side() -> None:
    court = Court.from_corners([[427, 384], [860, 382], [998, 667], [286, 670]], FRAME)
    with pytest.raises(ValueError, match="side"):
        PlayerTracker(court, "left", FRAME)


def test_tracker_finds_nobody_on_an_empty_court() -> None:
    court = Court.from_corners([[427, 384], [860, 382], [998, 667], [286, 670]], FRAME)
    frame = np.full((720, 1280, 3), (60, 140, 40), dtype=np.uint8)
    tracker = PlayerTracker(court, "near", FRAME, search_calls=2)
    try:
        assert all(tracker.update(frame, i, i / 15) is None for i in range(30))  # 2 s
        assert tracker.pose_calls == 2 * 30  # the search budget, no more
        assert all(tracker.update(frame, i, i / 15) is None for i in range(31, 46))
        assert tracker.pose_calls == 2 * 30 + 15  # lost for long: one call a frame
    finally:
        tracker.close()
        tracker.close()


# --- movement ---------------------------------------------------------------------------


def _obs(t: float, xy: tuple[float, float] | np.ndarray, fps: float) -> PlayerObservation:
    xy = np.asarray(xy, dtype=float)
    return PlayerObservation("near", round(t * fps), t, None, np.zeros(2), xy)


def _square_walk(t: float, speed: float = 2.0, side: float = 4.0) -> np.ndarray:
    """Position on a 4 m square walked at `speed`, starting at (1, 8)."""
    s = (t * speed) % (4 * side)
    leg, along = int(s // side), s % side
    corners = np.array([[1, 8], [1 + side, 8], [1 + side, 8 + side], [1, 8 + side], [1, 8]])
    direction = corners[leg + 1] - corners[leg]
    return corners[leg] + direction / side * along


@pytest.mark.parametrize("fps", [10.0, 15.0, 30.0])
def test_distance_of_a_known_path_at_any_frame_rate(fps: float) -> None:
    tracker = MovementTracker()
    for i in range(int(8.0 * fps) + 1):  # one lap: 16 m in 8 s
        tracker.update(_obs(i / fps, _square_walk(i / fps), fps))
    # Smoothing cuts the corners a little.
    assert 14.5 < tracker.distance_m < 16.3
    assert tracker.speed_mps == pytest.approx(2.0, rel=0.15)


def test_standing_still_with_pose_jitter_covers_no_distance() -> None:
    rng = np.random.default_rng(7)
    fps, tracker = 15.0, MovementTracker()
    raw = []
    for i in range(150):  # 10 s
        xy = np.array([3.0, 10.0]) + rng.normal(0.0, 0.1, 2)
        raw.append(xy)
        tracker.update(_obs(i / fps, xy, fps))
    raw_path = np.linalg.norm(np.diff(raw, axis=0), axis=1).sum()
    assert raw_path > 15.0
    assert tracker.distance_m < 1.0
    assert tracker.speed_mps < 0.5


def test_missed_frames_are_bridged() -> None:
    fps, tracker = 15.0, MovementTracker()
    velocity = np.array([1.2, 1.6])  # 2 m/s
    reported = []
    for i in range(61):  # 4 s, the player unseen from 1 s to 2.5 s
        t = i / fps
        obs = None if 1.0 < t < 2.5 else _obs(t, np.array([0.5, 8.0]) + velocity * t, fps)
        if tracker.update(obs) is not None:
            reported.append(i)
    assert reported == [i for i in range(61) if not 1.0 < i / fps < 2.5]
    assert [p[0] for p in tracker.positions] == reported
    assert tracker.distance_m == pytest.approx(8.0, rel=0.1)


def test_a_single_wild_observation_is_dropped() -> None:
    fps, tracker = 15.0, MovementTracker()
    for i in range(30):
        xy = (3.0, 10.0) if i != 15 else (3.0, 6.0)  # one misdetection 4 m away
        sample = tracker.update(_obs(i / fps, xy, fps))
        assert (sample is None) is (i == 15)
    assert tracker.distance_m < 0.01
    assert all(p[1:] == [3.0, 10.0] for p in tracker.positions)


def test_a_confirmed_jump_moves_the_track_without_counting_it() -> None:
    fps, tracker = 15.0, MovementTracker(confirm=3)
    for i in range(20):
        tracker.update(_obs(i / fps, (3.0, 12.0) if i < 10 else (3.0, 8.0), fps))
    assert tracker.positions[-1][1:] == pytest.approx([3.0, 8.0], abs=0.05)
    assert tracker.distance_m < 0.01


def test_positions_are_frame_x_y_in_centimetres() -> None:
    tracker = MovementTracker()
    assert tracker.update(None) is None
    sample = tracker.update(_obs(0.5, (1.23456, 7.891011), 30.0))
    assert sample is not None and sample.frame == 15 and sample.speed_mps == 0.0
    assert tracker.positions == [[15, 1.23, 7.89]]
    assert tracker.distance_m == 0.0
