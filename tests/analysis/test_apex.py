"""How high the shuttle climbed between two hits, read back through the camera recovered
from the court's corners."""

from __future__ import annotations

import math

import numpy as np

from analysis.camera import camera_projection, project
from analysis.shot_features import DRAG_TIME_S, Flight, apex_height
from tests.analysis.courts import BROADCAST_COURT

PROJECTION = camera_projection(BROADCAST_COURT, (1280, 720))
HITTER, RECEIVER = np.array([3.0, 11.5]), np.array([2.5, 1.5])  # near back, far back
START, END = 1.0, 2.2  # a clear: 1.2 s from hit to hit
PEAK_M = 6.0


def _flight(times: np.ndarray) -> np.ndarray:
    """Image points of a shuttle that flies from HITTER to RECEIVER slowed by drag (as the
    apex reading assumes), PEAK_M high halfway through the flight."""
    total = 1.0 - math.exp(-(END - START) / DRAG_TIME_S)
    share = (1.0 - np.exp(-(times - START) / DRAG_TIME_S)) / total
    ground = HITTER + share[:, None] * (RECEIVER - HITTER)
    height = PEAK_M * np.sin(np.pi * (times - START) / (END - START))
    return project(PROJECTION, np.column_stack([ground, height]))


def test_the_highest_point_of_the_flight_is_read_back_in_metres():
    times = START + np.arange(1, 36) / 30.0
    apex = apex_height(Flight(times, _flight(times), PROJECTION), START, END, HITTER, RECEIVER)
    assert abs(apex - PEAK_M) < 0.05


def test_only_the_points_seen_between_the_two_hits_count():
    times = START + np.arange(1, 51) / 30.0  # runs on 0.5 s past the receiver's hit
    xy = _flight(times)
    xy[times > END] = project(PROJECTION, np.array([[*RECEIVER, 9.0]]))  # a later lift
    xy[10:14] = np.nan  # lost for a few frames
    apex = apex_height(Flight(times, xy, PROJECTION), START, END, HITTER, RECEIVER)
    assert abs(apex - PEAK_M) < 0.05


def test_the_height_is_unknown_without_a_camera_or_two_points_in_flight():
    times = START + np.array([0.01, 0.6, 1.19])  # the first and last belong to the hits
    xy = _flight(times)
    assert math.isnan(apex_height(Flight(times, xy, None), START, END, HITTER, RECEIVER))
    assert math.isnan(apex_height(Flight(times, xy, PROJECTION), START, END, HITTER, RECEIVER))
    assert math.isnan(apex_height(Flight(times, xy, PROJECTION), START, END, HITTER, None))
