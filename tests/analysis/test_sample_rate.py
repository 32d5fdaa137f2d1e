"""The sample rate judged from the latest intervals."""

from __future__ import annotations

import pytest

from analysis.sample_rate import RecentInterval


def test_the_median_of_the_latest_intervals():
    recent = RecentInterval(3)
    assert recent.median is None
    recent.add(0.0)
    assert recent.median is None
    for t in (0.1, 0.2, 0.5):  # intervals 0.1, 0.1, 0.3
        recent.add(t)
    assert recent.median == pytest.approx(0.1)
    for t in (0.8, 1.1):  # the two 0.1 intervals leave the window
        recent.add(t)
    assert recent.median == pytest.approx(0.3)


def test_a_time_before_the_last_starts_afresh_from_it():
    recent = RecentInterval(4)
    for t in (10.0, 10.1, 0.0, 0.05):
        recent.add(t)
    assert recent.median == pytest.approx(0.075)  # 0.1 and 0.05; no negative interval
