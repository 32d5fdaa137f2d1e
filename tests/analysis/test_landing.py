"""After a rally's last shot there is no next hit to say where the shuttle went: it came down
where it was last seen before it was lost (at rest, motion differencing cannot see it)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.court import COURT_LENGTH
from analysis.hits import Hit, HitDetector
from analysis.shot_features import (
    FEATURE_NAMES,
    LOST_S,
    Flight,
    HitContext,
    landing,
    shot_features,
)
from analysis.shots import ShotClassifier
from analysis.shuttle import ShuttlePoint
from analysis.trained import TrainedModels
from tests.analysis.courts import BROADCAST_COURT

HIT_TIME = 1.0
FEATURE = {name: k for k, name in enumerate(FEATURE_NAMES)}


def _track(ground: list[tuple[float, float]], rate: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """The shuttle seen `rate` times a second from the hit on, one frame per court point of
    `ground` (metres) at its image point; a NaN point: not seen in that frame."""
    times = HIT_TIME + np.arange(1, len(ground) + 1) / rate
    xy = np.array(
        [
            BROADCAST_COURT.court_to_image(p) if not np.isnan(p[0]) else (np.nan, np.nan)
            for p in ground
        ]
    )
    return times, xy.reshape(-1, 2)


def _flight(start, end, n: int) -> list[tuple[float, float]]:
    """`n` court points evenly from `start` to `end`."""
    return [tuple(np.asarray(start) + (np.asarray(end) - start) * k / (n - 1)) for k in range(n)]


def test_the_shuttle_came_down_where_it_was_last_seen_before_it_was_lost():
    smash = _flight((3.0, 9.0), (2.0, 3.0), 15)  # half a second over the net
    lost = [(np.nan, np.nan)] * 15  # at rest on the floor
    picked_up = _flight((2.0, 3.0), (2.5, 2.0), 5)
    times, xy = _track(smash + lost + picked_up)
    down = landing(HIT_TIME, times, xy, BROADCAST_COURT)
    assert down is not None
    assert down.time == pytest.approx(HIT_TIME + 0.5)
    assert down.court_xy == pytest.approx([2.0, 3.0], abs=0.01)


def test_a_short_gap_in_flight_does_not_end_it():
    smash = _flight((3.0, 9.0), (2.0, 3.0), 15)
    unseen = round(LOST_S * 30) - 2  # frames: a gap of a little less than LOST_S
    smash[5 : 5 + unseen] = [(np.nan, np.nan)] * unseen
    down = landing(HIT_TIME, *_track(smash), BROADCAST_COURT)
    assert down is not None and down.court_xy == pytest.approx([2.0, 3.0], abs=0.01)


def test_where_it_came_down_is_unknown_when_it_was_hardly_followed_or_lost_in_the_air():
    assert landing(HIT_TIME, *_track(_flight((3.0, 9.0), (3.0, 8.0), 4)), BROADCAST_COURT) is None
    late = [(np.nan, np.nan)] * 12 + _flight((3.0, 9.0), (2.0, 3.0), 15)
    assert landing(HIT_TIME, *_track(late), BROADCAST_COURT) is None
    # Lost high up: its image point maps to the floor far beyond the court.
    away = _flight((3.0, 9.0), (3.0, -8.0), 15)
    assert landing(HIT_TIME, *_track(away), BROADCAST_COURT) is None
    assert landing(HIT_TIME, np.empty(0), np.empty((0, 2)), BROADCAST_COURT) is None


def test_a_rallys_last_shot_is_measured_to_where_it_came_down():
    hit = HitContext(HIT_TIME, "near", np.array([3.0, 11.7]), (), None)
    times, xy = _track(_flight((3.0, 11.0), (3.0, 1.7), 15) + [(np.nan, np.nan)] * 15)
    down = landing(HIT_TIME, times, xy, BROADCAST_COURT)
    features = shot_features(hit, None, Flight(times, xy, None), 3, rally_over=True, came_down=down)
    assert features[FEATURE["next"]] == -1.0  # still told apart from a shot with a return
    assert features[FEATURE["receiver_depth"]] == pytest.approx(COURT_LENGTH / 2 - 1.7, abs=0.01)
    assert features[FEATURE["flight_time"]] == pytest.approx(0.5)
    assert features[FEATURE["court_speed"]] == pytest.approx(10.0 / 0.5, abs=0.05)
    unknown = shot_features(hit, None, None, 3, rally_over=True)
    assert all(
        math.isnan(unknown[FEATURE[name]])
        for name in ("receiver_depth", "flight_time", "court_speed", "apex_height")
    )


def test_the_classifier_follows_a_rallys_last_shot_until_it_came_down():
    hits = HitDetector(BROADCAST_COURT, 720.0)
    times, xy = _track(
        [(3.0, 7.0)] * 30 + _flight((3.0, 11.0), (3.0, 1.7), 15) + [(np.nan,) * 2] * 15
    )
    hits.add(
        [
            ShuttlePoint(round(t * 30), t, None if np.isnan(p[0]) else tuple(p))
            for t, p in zip(times - 1.0, xy)
        ]
    )
    classifier = ShotClassifier(hits, BROADCAST_COURT, None, TrainedModels.shipped())
    hit = Hit(30, HIT_TIME, "near", 0.9, tuple(xy[29]))
    last = classifier.features(hit, None, 3, rally_over=True)
    assert last[FEATURE["receiver_depth"]] == pytest.approx(COURT_LENGTH / 2 - 1.7, abs=0.01)
    assert last[FEATURE["flight_time"]] == pytest.approx(0.5)
    # Until the rally is over, the shot may yet have a return: no landing then.
    assert math.isnan(classifier.features(hit, None, 3, rally_over=False)[FEATURE["flight_time"]])
