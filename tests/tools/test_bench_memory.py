"""The memory benchmark's growth figure: the slope after memory has settled, per hour."""

from __future__ import annotations

import math

import pytest

from tools.bench_memory import SETTLED_S, growth_per_hour


def test_flat_memory_after_a_start_up_climb_grows_by_nothing():
    climb = [(t, 100.0 + t) for t in range(0, int(SETTLED_S), 5)]
    flat = [(t, 240.0) for t in range(int(SETTLED_S), 600, 5)]
    assert growth_per_hour(climb + flat) == pytest.approx(0.0, abs=1e-6)


def test_steady_growth_is_given_per_hour_of_video():
    samples = [(t, 200.0 + t / 60.0) for t in range(0, 600, 5)]  # 1 MB a minute of video
    assert growth_per_hour(samples) == pytest.approx(60.0)


def test_too_short_a_run_has_no_figure():
    assert math.isnan(growth_per_hour([(10.0, 200.0), (30.0, 210.0)]))
