"""The serve: the rally's first hit, struck from a standstill, and no other hit; the angle
the shuttle leaves the racket at."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.camera import camera_projection, project
from analysis.court import Court
from analysis.shot_features import (
    DRAG_TIME_S,
    FEATURE_NAMES,
    STILL_M,
    Flight,
    HitContext,
    launch_angle,
    moved_before,
    shot_features,
)
from analysis.shots import model_input, serve_rule
from analysis.trained import TrainedModels
from tools import track_cache, train_shots
from tools.dataset import aicup_clips

SERVE = FEATURE_NAMES.index("serve")


def _walk(speed_m_s: float, rate: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """A player seen `rate` times a second for 2 s, walking along the court's length."""
    times = np.arange(0.0, 2.0, 1.0 / rate)
    xy = np.stack([np.full_like(times, 3.0), 2.0 + speed_m_s * times], axis=1)
    return times, xy


def _hit(moved: float) -> HitContext:
    return HitContext(1.5, "near", np.array([3.0, 10.0]), (), None, moved)


def test_moved_before_measures_the_half_second_before_the_hit():
    assert moved_before(*_walk(0.0), 1.5) == pytest.approx(0.0)
    # 0.4 s between the two ends, each averaged over the samples within 0.1 s before it.
    assert moved_before(*_walk(2.0), 1.5) == pytest.approx(0.8, abs=0.1)
    # Positions after the hit do not count.
    times, xy = _walk(0.0)
    xy[times > 1.5] += 5.0
    assert moved_before(times, xy, 1.5) == pytest.approx(0.0)


def test_moved_before_is_unknown_without_the_player_at_both_ends():
    times, xy = _walk(1.0)
    assert math.isnan(moved_before(times[times > 1.2], xy[times > 1.2], 1.5))
    xy[(times > 0.85) & (times <= 1.0)] = np.nan
    assert math.isnan(moved_before(times, xy, 1.5))
    assert math.isnan(moved_before(np.empty(0), np.empty((0, 2)), 1.5))


@pytest.mark.parametrize(
    ("index", "moved", "serve"),
    [(0, 0.05, 1.0), (0, math.nan, 1.0), (0, STILL_M + 0.2, 0.0), (1, 0.05, 0.0)],
)
def test_a_first_hit_after_running_is_not_a_serve(index, moved, serve):
    features = shot_features(_hit(moved), None, None, index, rally_over=False)
    assert features[SERVE] == serve


CLASSES = ("clear", "lift", "long_serve", "net_shot", "short_serve")


def test_only_a_serve_is_typed_as_a_serve():
    proba = np.array([0.1, 0.25, 0.4, 0.2, 0.05])
    assert serve_rule(proba, CLASSES, serve=False).type == "lift"
    assert serve_rule(proba, CLASSES, serve=False).confidence == pytest.approx(0.25)
    assert serve_rule(proba, CLASSES, serve=True).type == "long_serve"
    returned = np.array([0.1, 0.6, 0.1, 0.1, 0.1])
    assert serve_rule(returned, CLASSES, serve=True).type in {"long_serve", "short_serve"}


@pytest.mark.slow
def test_servers_stand_still_and_returners_do_not(shared_data):
    """On the labelled rallies (poses tracked as the analyzer does): every serve seen long
    enough is under the limit, and most returns of serve are over it."""
    serves, returns = [], []
    for clip in aicup_clips(shared_data):
        players = track_cache.players(clip)
        posed = np.flatnonzero(players["posed"])
        times = players["times"][posed]
        for index, stroke in enumerate(clip.strokes[:2]):
            xy = players[f"{stroke.player}_court_xy"][posed]
            moved = moved_before(times, xy, float(players["times"][stroke.frame]))
            if not math.isnan(moved):
                (serves if index == 0 else returns).append(moved)
    assert len(serves) >= 8 and len(returns) >= 15
    assert max(serves) < STILL_M
    assert np.mean(np.array(returns) > STILL_M) >= 0.8


# A broadcast camera high behind the near baseline (the Denmark Open hall's court corners).
CORNERS = {
    "far_left": [448.0, 256.6],
    "far_right": [818.2, 256.2],
    "near_right": [981.2, 646.4],
    "near_left": [278.8, 649.0],
}
SIZE = (1280, 720)
LAUNCH = FEATURE_NAMES.index("launch_angle")


def _projection() -> np.ndarray:
    projection = camera_projection(Court.from_mapping(CORNERS, SIZE), SIZE)
    assert projection is not None
    return projection


def _flight(
    angle_deg: float, start_xy, end_xy, flight_s: float, rate: float, contact_m: float = 2.5
) -> Flight:
    """A shuttle struck at `angle_deg` above the horizontal from `contact_m` up, covering the
    ground from `start_xy` to `end_xy` as the drag model has it, in a straight line up or down
    over its first moments; seen `rate` times a second."""
    start_xy, end_xy = np.asarray(start_xy, float), np.asarray(end_xy, float)
    total = 1.0 - math.exp(-flight_s / DRAG_TIME_S)
    speed = np.linalg.norm(end_xy - start_xy) / (DRAG_TIME_S * total)
    times = np.arange(0.0, 0.5, 1.0 / rate)
    share = (1.0 - np.exp(-times / DRAG_TIME_S)) / total
    ground = start_xy + share[:, None] * (end_xy - start_xy)
    height = contact_m + math.tan(math.radians(angle_deg)) * speed * times
    xy = project(_projection(), np.column_stack([ground, height]))
    return Flight(times + 3.0, xy, _projection())


@pytest.mark.parametrize("rate", [30.0, 15.0, 10.0])
@pytest.mark.parametrize(
    ("angle", "start", "end", "flight_s"),
    [
        (-12.0, (3.0, 12.0), (2.0, 2.5), 0.6),  # a smash from the near court
        (-12.0, (2.0, 1.5), (4.0, 11.0), 0.6),  # a smash from the far court, at the camera
        (35.0, (3.0, 8.5), (3.5, 12.5), 1.6),  # a lift from the far net
        (20.0, (4.0, 12.3), (3.0, 1.0), 1.5),  # a clear from the near back line
        (0.0, (1.0, 10.5), (5.0, 3.5), 0.7),  # a flat drive across
    ],
)
def test_launch_angle_is_the_angle_the_shuttle_left_at(rate, angle, start, end, flight_s):
    flight = _flight(angle, start, end, flight_s, rate)
    measured = launch_angle(flight, 3.0, 3.0 + flight_s, np.array(start), np.array(end))
    assert measured == pytest.approx(angle, abs=2.0)


def test_launch_angle_takes_gaps_and_is_unknown_without_two_early_points():
    start, end = np.array([3.0, 12.0]), np.array([2.0, 2.5])
    flight = _flight(-12.0, start, end, 0.6, rate=10.0)
    # The point at 0.1 s lost: the hit and the one at 0.2 s still tell.
    kept = np.array([True, False, True, True, True])
    gappy = Flight(flight.times[kept], flight.xy[kept], flight.projection)
    assert launch_angle(gappy, 3.0, 3.6, start, end) == pytest.approx(-12.0, abs=2.0)
    # The shuttle seen once in the flight's first 0.2 s, or never.
    for keep in ([True, False, False, True, True], [False] * 5):
        kept = np.array(keep)
        few = Flight(flight.times[kept], flight.xy[kept], flight.projection)
        assert math.isnan(launch_angle(few, 3.0, 3.6, start, end))
    no_camera = Flight(flight.times, flight.xy, None)
    assert math.isnan(launch_angle(no_camera, 3.0, 3.6, start, end))
    assert math.isnan(launch_angle(flight, 3.0, 3.6, None, end))


def test_the_launch_angle_is_a_shot_feature_once_the_next_hit_is_known():
    start, end = np.array([3.0, 12.0]), np.array([2.0, 2.5])
    flight = _flight(-12.0, start, end, 0.6, rate=15.0)
    hit = HitContext(3.0, "near", start, (), None)
    receiver = HitContext(3.6, "far", end, (), None)
    settled = shot_features(hit, receiver, flight, 3, rally_over=False)
    assert settled[LAUNCH] == pytest.approx(-12.0, abs=2.0)
    assert math.isnan(shot_features(hit, None, None, 3, rally_over=False)[LAUNCH])


def test_a_model_made_before_a_feature_was_added_takes_its_own_features():
    row = np.arange(len(FEATURE_NAMES), dtype=float)
    models = TrainedModels.shipped()
    for model in (models.shots, models.shots_open):
        taken = model_input(row, model.features)
        assert taken.tolist() == [FEATURE_NAMES.index(n) for n in model.features]
        assert model.predict_proba(taken[None, :]).shape == (1, len(model.classes))
    with pytest.raises(ValueError, match="bounce_count"):
        model_input(row, ("serve", "bounce_count"))


@pytest.mark.slow
def test_smashes_leave_downward_and_lifts_upward_on_the_labelled_rallies(shared_data):
    """From the trackers' output at 10 frames a second, at the labelled hits."""
    angles: dict[str, list[float]] = {"smash": [], "drop": [], "lift": [], "clear": []}
    for clip in aicup_clips(shared_data):
        samples = train_shots.clip_samples(clip, 10.0)
        for kind, row in zip(samples.types, samples.final):
            if kind in angles and not math.isnan(row[LAUNCH]):
                angles[kind].append(row[LAUNCH])
    assert all(len(v) >= 5 for v in angles.values())
    assert np.median(angles["smash"]) < -3 and np.median(angles["drop"]) < -3
    assert np.median(angles["lift"]) > 15 and np.median(angles["clear"]) > 5
