"""Hit peak picking at any sample rate, and turn-taking attribution."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.hits import (
    HIT_SMOOTHING_S,
    HITTER_SMOOTHING_S,
    SPARSE_THRESHOLD,
    THRESHOLD,
    HitterSequence,
    pick_hits,
    smooth_in_time,
    threshold_for,
)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_short_tracks(n):
    times = np.arange(n) / 30
    hits = pick_hits(times, np.full(n, 0.9), np.full(n, 0.5))
    assert len(hits) == min(n, 1)


def test_peaks_are_separated_and_in_time_order():
    times = np.arange(90) / 30
    proba = np.zeros(90)
    proba[[20, 21, 22, 60]] = [0.8, 0.7, 0.8, 0.8]  # a plateau: its middle wins
    hits = pick_hits(times, proba, np.full(90, 0.9), threshold=0.2)
    assert [i for i, _, _ in hits] == [21, 60]


def test_players_take_turns_when_the_evidence_is_weak():
    sequence = HitterSequence()
    assert sequence.assign(0.0, 0.95) == "near"
    # Weak evidence for near again: the turn order wins.
    assert sequence.assign(1.0, 0.6) == "far"
    # Strong evidence beats the turn order (a hit in between was missed).
    assert sequence.assign(2.0, 0.02) == "far"
    # After a long pause a new rally starts: no turn order.
    assert sequence.assign(10.0, 0.7) == "near"


def test_smoothing_at_30_fps_averages_a_frame_either_side():
    times = np.arange(7) / 30
    values = np.array([0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])
    smoothed = smooth_in_time(times, values, HIT_SMOOTHING_S, triangle=True)
    np.testing.assert_allclose(smoothed, [0, 0, 0.25, 0.5, 0.25, 0, 0], atol=1e-9)
    # At the ends only the samples that exist count.
    np.testing.assert_allclose(
        smooth_in_time(times[:2], np.array([1.0, 0.0]), HIT_SMOOTHING_S, triangle=True),
        [2 / 3, 1 / 3],
    )
    box = smooth_in_time(times, values, HITTER_SMOOTHING_S, triangle=False)
    np.testing.assert_allclose(box, [0, 0.25, 0.2, 0.2, 0.2, 0.25, 0], atol=1e-9)


def test_sparse_samples_are_not_smoothed_into_their_neighbours():
    """At 10 fps the neighbours are 0.1 s away: a hit's single strong sample keeps its score."""
    times = np.arange(7) * 0.1
    values = np.array([0.0, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(smooth_in_time(times, values, HIT_SMOOTHING_S, True), values)


@pytest.mark.parametrize(
    ("fps", "expected"), [(30, THRESHOLD), (60, THRESHOLD), (10, SPARSE_THRESHOLD), (5, 0.2)]
)
def test_threshold_follows_the_sample_rate(fps, expected):
    assert threshold_for(np.arange(40) / fps) == pytest.approx(expected)


def test_threshold_between_rates_and_for_too_few_samples():
    assert SPARSE_THRESHOLD < threshold_for(np.arange(40) / 15) < THRESHOLD
    assert threshold_for(np.zeros(1)) == THRESHOLD


def test_a_sparse_peak_below_the_dense_threshold_is_a_hit_at_10_fps():
    proba = np.zeros(30)
    proba[12] = 0.25
    assert [i for i, _, _ in pick_hits(np.arange(30) * 0.1, proba, np.full(30, 0.9))] == [12]
    assert pick_hits(np.arange(30) / 30, proba, np.full(30, 0.9)) == []
