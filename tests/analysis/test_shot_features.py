"""The serve: the rally's first hit, struck from a standstill, and no other hit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.shot_features import (
    FEATURE_NAMES,
    STILL_M,
    HitContext,
    moved_before,
    shot_features,
)
from analysis.shots import serve_rule
from tools import track_cache
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
