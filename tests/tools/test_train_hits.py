"""Choosing how hits are picked: a setting from a high stretch, not a lucky spike."""

from __future__ import annotations

import pytest

from tools.train_hits import plateau


def test_a_lone_spike_loses_to_the_middle_of_a_high_stretch():
    scores = [(0.80, 0.15), (0.86, 0.2), (0.87, 0.25), (0.86, 0.3), (0.80, 0.4), (0.88, 0.5)]
    assert max(scores)[1] == 0.5  # the single best is a spike at the edge
    assert max(plateau(scores))[1] == 0.25


def test_each_score_is_averaged_with_its_neighbours():
    smoothed = plateau([(0.6, 1.0), (0.9, 2.0), (0.3, 3.0)])
    assert [s for _, s in smoothed] == [1.0, 2.0, 3.0]
    assert [f1 for f1, _ in smoothed] == pytest.approx([0.75, 0.6, 0.6])
