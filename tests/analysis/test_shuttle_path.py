"""The path search pays for starting a flight by what a flight can show at the frame rate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.shuttle_path import PathParams, PathSearch


def _fed(search: PathSearch, rate: float, points: int, flight: range, log_odds: float) -> None:
    """`points` frames at `rate`; in the frames of `flight` a shuttle flying at a steady
    300 px/s, seen with `log_odds`; nothing elsewhere."""
    for k in range(points):
        if k in flight:
            xy, score = np.array([[100.0 + 300.0 * k / rate, 200.0]]), np.array([log_odds])
        else:
            xy, score = np.empty((0, 2)), np.empty(0)
        search.add(k / rate, xy, score)


@pytest.mark.parametrize(("rate", "share"), [(60, 1.0), (25, 1.0), (15, 0.775), (10, 0.632)])
def test_starting_a_flight_costs_less_at_lower_frame_rates(rate, share):
    search = PathSearch(PathParams())
    _fed(search, rate, 12, range(0), 0.0)
    assert search.restart == pytest.approx(PathParams().restart * share, abs=0.01)
    assert share == pytest.approx(min(1.0, math.sqrt(rate / PathParams().full_rate)), abs=1e-3)


def test_a_short_flight_at_10_fps_is_kept_that_the_full_cost_would_drop():
    """Four faint points, 0.3 s of flight at 10 fps, as a net shot or a short serve gives."""
    flight = range(3, 7)
    for params, kept in ((PathParams(), True), (PathParams(full_rate=1.0), False)):
        search = PathSearch(params)
        _fed(search, 10.0, 10, flight, log_odds=0.5)
        found = [k for k in range(10) if search.position(k)[0] is not None]
        assert found == (list(flight) if kept else [])
