"""The path search pays for starting a flight by what a flight can show at the frame rate."""

from __future__ import annotations

import math
from collections.abc import Container

import numpy as np
import pytest

from analysis.shuttle_path import PathParams, PathSearch


def _fed(
    search: PathSearch, rate: float, points: int, flight: Container[int], log_odds: float
) -> None:
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


# A shuttle coming down to the near player's racket at 10 fps, hit at the fifth point and sent
# back up and away (image pixels, from a broadcast rally). The point at the contact is fainter
# than the rest, as the racket and arm move around it.
_HIT_AT_10_FPS = [(740, 140), (754, 165), (768, 187), (786, 230), (796, 265), (771, 246),
                  (761, 235), (753, 232), (745, 231)]  # fmt: skip
_CONTACT = 4


def _position_at_contact(params: PathParams) -> tuple[tuple[float, float] | None, bool]:
    search = PathSearch(params)
    for k, xy in enumerate(_HIT_AT_10_FPS):
        score = 2.0 if k == _CONTACT else 4.0
        search.add(k / 10, np.array([xy], dtype=float), np.array([score]))
    for k in range(len(_HIT_AT_10_FPS), len(_HIT_AT_10_FPS) + PathParams().delay):
        search.add(k / 10, np.empty((0, 2)), np.empty(0))
    return search.position(_CONTACT)


def test_a_path_at_10_fps_keeps_the_contact_point_of_a_hit():
    assert _position_at_contact(PathParams()) == ((796.0, 265.0), False)
    # Allowed to skip 0.2 s, the path ran straight on through the hit and drew the contact
    # frame on the line between the points around it.
    xy, interpolated = _position_at_contact(PathParams(max_skip_s=math.inf))
    assert interpolated and math.dist(xy, (796.0, 265.0)) > 30


@pytest.mark.parametrize("rate", [30.0, 15.0])
def test_a_faint_flight_missed_in_one_frame_is_kept_whole_at_15_fps_and_above(rate):
    """Seven faint points with the fifth missed. Split in two, each half must pay for its own
    start, which the faint points do not cover: only a segment skipping the frame keeps all."""
    flight, missed = range(1, 9), 5
    search = PathSearch(PathParams())
    _fed(search, rate, 9 + PathParams().delay, set(flight) - {missed}, log_odds=0.5)
    assert all(search.position(k)[0] is not None for k in flight)
    assert search.position(missed)[1]  # drawn in, on the line
