"""Hit features are quantities per second: the same flight gives the same turn features
whatever the rate the analyzer is fed at."""

from __future__ import annotations

import numpy as np
import pytest

from analysis import hits
from analysis.hit_features import (
    FEATURE_NAMES,
    QUIET_CAP_S,
    moment_features,
    swing_point,
    wrist_travel,
)
from analysis.hits import MOVED_LOOKBACK_S, HitDetector, net_row
from analysis.players import PlayerObservation
from analysis.pose import (
    LEFT_ANKLE,
    LEFT_SHOULDER,
    LEFT_WRIST,
    NOSE,
    RIGHT_ANKLE,
    RIGHT_SHOULDER,
    RIGHT_WRIST,
    Pose,
)
from analysis.shot_features import moved_before
from analysis.shuttle import ShuttlePoint
from tests.analysis.courts import BROADCAST_COURT

# The rest depend on the rate by nature (time since the last sample seen) or need players.
RATE_FREE = [
    name
    for name in FEATURE_NAMES
    if name.startswith(("kink", "turn", "speed", "vy", "seen", "net"))
]


def v_flight(fps: int) -> tuple[np.ndarray, np.ndarray, int]:
    """A shuttle flying down-right at 600 px/s, hit at 0.8 s, then up-right at 900 px/s, in
    the frames of a 30 fps file that a stream at `fps` delivers."""
    frames = np.arange(0, 49, 30 // fps)
    # Timestamps as the file gives them: 24/30 - 0.1 > 21/30, so window edges need slack.
    times = frames / 30
    hit = int(np.flatnonzero(frames == 24)[0])
    t = times - times[hit]
    xy = np.where(
        (t < 0)[:, None],
        np.column_stack([400 + 300 * t, 300 + 520 * t]),
        np.column_stack([400 + 400 * t, 300 - 806 * t]),
    )
    return times, xy, hit


def features(fps: int) -> dict[str, float]:
    times, xy, hit = v_flight(fps)
    values = moment_features(times, xy, hit, 720.0, {"near": None, "far": None}, net_y=400.0)
    return dict(zip(FEATURE_NAMES, values))


@pytest.mark.parametrize("fps", [10, 15, 30])
def test_turn_is_measured_at_every_scale(fps):
    f = features(fps)
    for name in FEATURE_NAMES:
        if name.startswith(("kink", "turn")):
            assert np.isfinite(f[name]), f"{name} missing at {fps} fps"
    assert f["turn_100"] < 0  # the shuttle comes back up


@pytest.mark.parametrize("fps", [10, 15])
def test_stream_rates_give_the_file_rate_features(fps):
    dense, sparse = features(30), features(fps)
    for name in RATE_FREE:
        assert sparse[name] == pytest.approx(dense[name], rel=1e-6, abs=1e-9), name


@pytest.mark.parametrize("fps", [10, 15, 30])
def test_the_sample_interval_is_a_feature(fps):
    assert features(fps)["interval"] == pytest.approx(1 / fps)


def test_how_much_track_came_before_a_moment_is_a_feature():
    """At the start of a video or stream, a shuttle not seen yet was not necessarily out of
    play: the moment says how much track it stands on, up to QUIET_CAP_S."""
    times, xy, hit = v_flight(30)
    players = {"near": None, "far": None}
    history = FEATURE_NAMES.index("history")
    early = moment_features(times, xy, hit, 720.0, players, net_y=400.0)
    assert early[history] == pytest.approx(0.8)
    # The same flight with 3 s of track before it, the shuttle unseen there.
    before = np.arange(-90, 0) / 30
    longer = np.concatenate([before, times])
    unseen = np.full((len(before), 2), np.nan)
    late = moment_features(
        longer, np.vstack([unseen, xy]), hit + len(before), 720.0, players, net_y=400.0
    )
    assert late[history] == QUIET_CAP_S
    same = [k for k, name in enumerate(FEATURE_NAMES) if name != "history"]
    np.testing.assert_array_equal(late[same], early[same])


def standing(x: float = 0.0, wrist_dx: float = 0.0, wrist_dy: float = 0.0) -> Pose:
    """A person 100 px tall from y=100 at `x`, the right wrist moved by (dx, dy)."""
    landmarks = np.tile([x + 50.0, 150.0], (33, 1))
    landmarks[NOSE] = [x + 50.0, 100.0]
    landmarks[LEFT_ANKLE] = landmarks[RIGHT_ANKLE] = [x + 50.0, 200.0]
    landmarks[LEFT_SHOULDER], landmarks[RIGHT_SHOULDER] = [x + 40.0, 120.0], [x + 60.0, 120.0]
    landmarks[LEFT_WRIST], landmarks[RIGHT_WRIST] = [x + 35.0, 160.0], [x + 65.0, 160.0]
    landmarks[RIGHT_WRIST] += [wrist_dx, wrist_dy]
    return Pose(landmarks, np.ones(33))


def travel(poses: list[Pose]) -> float:
    return wrist_travel([swing_point(p) for p in poses])


def test_a_swing_is_the_wrists_spread_against_the_shoulders_in_body_heights():
    swing = [standing(), standing(wrist_dy=-60.0), standing(wrist_dx=30.0, wrist_dy=-100.0)]
    assert travel(swing) == pytest.approx(np.hypot(30.0, 100.0) / 100.0)
    # Running moves the body, not the wrists against the shoulders.
    assert travel([standing(x=0.0), standing(x=80.0), standing(x=160.0)]) == 0.0
    assert np.isnan(travel([standing()]))


def test_the_detector_judges_a_swing_on_the_poses_either_side_of_the_moment():
    """Moments are scored once the track after them is in, so the poses after are known."""
    detector = HitDetector(BROADCAST_COURT, 720.0)
    for k in range(30):  # 10 poses a second
        t = k / 10
        # A swing 0.3 s after 1 s: on the window's edge, which counts.
        pose = standing(wrist_dy=-100.0 if k == 13 else 0.0)
        obs = PlayerObservation("near", 3 * k, t, pose, np.zeros(2), np.array([3.0, 10.0]))
        detector.observe_players({"near": obs, "far": None})
    around = detector.swing_points("near", 1.0)
    assert len(around) == 7  # 0.7 s to 1.3 s
    assert wrist_travel(around) == pytest.approx(1.0)
    assert wrist_travel(detector.swing_points("near", 0.3)) == 0.0


def test_the_detector_keeps_every_position_moved_before_reads():
    """Hit scoring hands `moved_before` only the positions since MOVED_LOOKBACK_S before the
    first moment it scores: that must give what all the positions give."""
    detector = HitDetector(BROADCAST_COURT, 720.0)
    for k in range(45):  # 15 poses a second, walking 3 m/s across the court
        t = k / 15
        court_xy = np.array([1.0 + 3.0 * t, 10.0])
        obs = PlayerObservation("near", 2 * k, t, standing(), np.zeros(2), court_xy)
        detector.observe_players({"near": obs, "far": None})
    for t in (1.0, 1.5, 2.9):
        recent = detector.positions("near", t - MOVED_LOOKBACK_S)
        assert len(recent[0]) < len(detector.positions("near")[0])
        assert moved_before(*recent, t) == pytest.approx(1.2)
        assert moved_before(*recent, t) == moved_before(*detector.positions("near"), t)


def test_the_detector_gives_each_moment_the_features_of_the_whole_track(monkeypatch):
    """The detector turns only the recent track into arrays: each moment must still get what
    the whole track gives, the time since the shuttle was last seen included."""
    computed = []

    def spy(times, xy, i, *rest):
        values = moment_features(times, xy, i, *rest)
        computed.append((float(times[i]), values))
        return values

    monkeypatch.setattr(hits, "moment_features", spy)
    times = np.arange(210) / 30  # 7 s at 30 fps
    xy = np.column_stack([300 + 50 * times, 400 - 30 * np.sin(3 * times)])
    # Unseen for 1.5 s (less than QUIET_CAP_S), then for 2.5 s (more).
    xy[((times >= 1.0) & (times < 2.5)) | ((times >= 3.5) & (times < 6.0))] = np.nan
    detector = HitDetector(BROADCAST_COURT, 720.0)
    for k, (t, point) in enumerate(zip(times, xy)):
        seen = not np.isnan(point[0])
        detector.add([ShuttlePoint(k, float(t), tuple(point) if seen else None)])
    detector.flush()
    assert len(computed) == len(times)
    players = {"near": None, "far": None}
    for k, (time, values) in enumerate(computed):
        assert time == times[k]
        whole = moment_features(times, xy, k, 720.0, players, net_row(BROADCAST_COURT))
        np.testing.assert_array_equal(values, whole)


def test_the_detector_knows_the_hitters_next_pose_after_a_moment():
    """A hit's placing may look at the hitter's first pose after it (analysis.racket_side)."""
    detector = HitDetector(BROADCAST_COURT, 720.0)
    for k in range(10):  # 10 poses a second, the near player unseen at 0.5 s
        if k == 5:
            continue
        obs = PlayerObservation(
            "near", 3 * k, k / 10, standing(), np.zeros(2), np.array([3.0, 10.0])
        )
        detector.observe_players({"near": obs, "far": None})
    assert detector.player_after("near", 0.3).time == pytest.approx(0.4)
    assert detector.player_after("near", 0.4).time == pytest.approx(0.6)  # never the same pose
    assert detector.player_after("near", 0.9) is None  # not seen yet
    assert detector.player_after("far", 0.3) is None
