"""Features of one hit that tell the shot types apart, in court metres, seconds and body
heights, so that they mean the same in any hall and from any camera.

Where the hitter stood and whether the stroke was overhead; where the shuttle went, known one
hit later from where the receiver stood at the next hit (or, after a rally's last shot, from
where the shuttle came down); how long it flew, how fast it crossed the court, and how high it
climbed, from the shuttle's image track with the camera recovered from the court. Shared by
the training script (tools/train_shots.py) and the shot classifier (analysis/shots.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analysis.camera import height_above
from analysis.court import NET_Y, Court, in_court
from analysis.hit_features import FEATURE_NAMES as MOMENT_NAMES
from analysis.pose import LEFT_WRIST, NOSE, RIGHT_WRIST, Pose

FEATURE_NAMES = (
    "serve",  # the rally's first hit, played from a standstill
    "next",  # 1: the next hit is known; 0: not yet; -1: the rally ended without one
    "hitter_depth",  # metres from the net
    "receiver_depth",  # metres from the net, at the next hit (or where the shuttle came down)
    "flight_time",  # seconds to the next hit (or until the shuttle came down)
    "wrist_over_head",  # the higher wrist above the nose, in body heights
    "contact_height",  # the shuttle above the hitter's feet at the hit, in body heights
    "apex_height",  # metres: how high the shuttle climbed between the two hits
    "court_speed",  # metres a second from the hitter's feet to the receiver's (or the landing)
)
POSE_WINDOW_S = 0.2  # poses this close to the hit count for "overhead"
# A shuttle's horizontal speed decays about exponentially, with a time constant near its
# terminal speed over g (6.8 m/s / 9.8 m/s^2).
DRAG_TIME_S = 0.7
EDGE_S = 0.05  # flight points this close to either hit belong to the hit, not the flight
MAX_APEX_M = 15.0  # higher than any hall: a misread point
# After a rally's last shot, the shuttle came down where it was last seen before it was lost
# for LOST_S: at rest on the floor, motion differencing no longer sees it. Followed for less
# than MIN_FLIGHT_S, or lost farther than OUT_M outside the court (in the air, then), where
# it came down is not known.
LOST_S = 0.3
MIN_FLIGHT_S = 0.2
OUT_M = 2.0
# The laws make the server stand still until the serve is struck. A first hit whose hitter
# moved more than this in the half second before it is a return of a serve that was missed.
# (Servers moved 0.01-0.19 m, returners 0.23-1.2 m, over the labelled rallies.)
STILL_M = 0.3
STILL_FROM_S, STILL_TO_S = 0.5, 0.1  # the half second before a hit, as seconds before it
STILL_SPAN_S = 0.1  # feet positions averaged at either end, against pose noise
_MOMENT = {name: MOMENT_NAMES.index(name) for name in MOMENT_NAMES}


@dataclass(frozen=True)
class HitContext:
    """One hit as the shot classifier sees it."""

    time: float
    player: str  # "near" | "far"
    court_xy: np.ndarray | None  # the hitter's feet, court metres
    poses: tuple[Pose, ...]  # the hitter's poses within POSE_WINDOW_S of the hit
    moment: np.ndarray | None  # the hit's moment features (analysis.hit_features)
    moved_before: float = math.nan  # metres the hitter's feet moved just before (moved_before)


@dataclass(frozen=True)
class Flight:
    """The shuttle's track after a hit: image points and their times. It may run past the
    flight's end (the next hit, or where the shuttle came down): only the points between the
    two count."""

    times: np.ndarray  # (N,)
    xy: np.ndarray  # (N, 2) pixels, NaN where unseen
    projection: np.ndarray | None  # the camera (analysis.camera), None when unknown


@dataclass(frozen=True)
class Landing:
    """Where the shuttle came down after a rally's last shot."""

    time: float
    court_xy: np.ndarray  # court metres


def shot_features(
    hit: HitContext,
    next_hit: HitContext | None,
    flight: Flight | None,
    index_in_rally: int,
    rally_over: bool,
    came_down: Landing | None = None,
) -> np.ndarray:
    """`flight`: the shuttle's track after the hit, to the next one or, when the hit was the
    rally's last, to where it `came_down` (which counts only without a next hit)."""
    nan = np.nan
    moment = hit.moment if hit.moment is not None else np.full(len(MOMENT_NAMES), nan)
    contact = moment[_MOMENT["near_height" if hit.player == "near" else "far_height"]]
    end = next_hit if next_hit is not None else came_down
    end_time = end.time if end is not None else nan
    receiver = end.court_xy if end is not None else None
    apex = nan
    if end is not None and flight is not None:
        apex = apex_height(flight, hit.time, end_time, hit.court_xy, receiver)
    return np.array(
        [
            1.0 if index_in_rally == 0 and not hit.moved_before > STILL_M else 0.0,
            1.0 if next_hit is not None else (-1.0 if rally_over else 0.0),
            _depth(hit.court_xy),
            _depth(receiver),
            end_time - hit.time,
            max((wrist_over_head(p) for p in hit.poses), default=nan),
            contact,
            apex,
            _speed(hit.court_xy, receiver, end_time - hit.time),
        ],
        dtype=np.float64,
    )


def landing(hit_time: float, times: np.ndarray, xy: np.ndarray, court: Court) -> Landing | None:
    """Where the shuttle came down after a rally's last shot, hit at `hit_time`, from its
    track (`times` ascending, `xy` (N, 2) pixels, NaN where unseen); None when not known."""
    last, found = hit_time, None
    for i in np.flatnonzero((times > hit_time) & ~np.isnan(xy[:, 0])):
        if times[i] - last > LOST_S:
            break
        last, found = float(times[i]), int(i)
    if found is None or last - hit_time < MIN_FLIGHT_S:
        return None
    court_xy = court.image_to_court(xy[found])
    return Landing(last, court_xy) if in_court(court_xy, margin=OUT_M) else None


def moved_before(times: np.ndarray, court_xy: np.ndarray, hit_time: float) -> float:
    """Metres the hitter's feet moved over the half second before a hit (NaN when the player
    was not seen at both ends). `times` (N,) and `court_xy` (N, 2): the hitter's positions."""
    ends = []
    for before in (STILL_FROM_S, STILL_TO_S):
        end = hit_time - before
        near = (times > end - STILL_SPAN_S) & (times <= end + 1e-6) & ~np.isnan(court_xy[:, 0])
        if not near.any():
            return math.nan
        ends.append(court_xy[near].mean(axis=0))
    return float(np.linalg.norm(ends[1] - ends[0]))


def apex_height(
    flight: Flight,
    start: float,
    end: float,
    start_xy: np.ndarray | None,
    end_xy: np.ndarray | None,
) -> float:
    """How high the shuttle flew between two hits, in metres (NaN when it cannot be told).

    The shuttle is taken to fly over the straight line between the hitter's and the
    receiver's feet, covering it as drag slows it down; each image point then gives a height.
    """
    if flight.projection is None or start_xy is None or end_xy is None or end <= start:
        return np.nan
    inside = (
        (flight.times > start + EDGE_S) & (flight.times < end - EDGE_S) & ~np.isnan(flight.xy[:, 1])
    )
    if inside.sum() < 2:
        return np.nan
    total = 1.0 - math.exp(-(end - start) / DRAG_TIME_S)
    heights = []
    for t, (_, y) in zip(flight.times[inside], flight.xy[inside]):
        share = (1.0 - math.exp(-(t - start) / DRAG_TIME_S)) / total
        ground = start_xy + share * (end_xy - start_xy)
        height = height_above(flight.projection, ground, float(y))
        if height is not None and 0.0 <= height <= MAX_APEX_M:
            heights.append(height)
    return max(heights) if heights else np.nan


def _speed(start: np.ndarray | None, end: np.ndarray | None, seconds: float) -> float:
    """Metres a second from one court point to another (NaN when either is unknown)."""
    if start is None or end is None or not seconds > 0:
        return np.nan
    return float(np.hypot(*(np.asarray(end) - np.asarray(start)))) / seconds


def _depth(court_xy: np.ndarray | None) -> float:
    """Metres from the net (0 at the net, 6.7 at the back line)."""
    return float(abs(court_xy[1] - NET_Y)) if court_xy is not None else np.nan


def wrist_over_head(pose: Pose) -> float:
    """How far the higher wrist is above the nose, in body heights (negative: below)."""
    height = max(pose.height_px(), 1.0)
    top_wrist = min(pose.landmarks[LEFT_WRIST, 1], pose.landmarks[RIGHT_WRIST, 1])
    return float((pose.landmarks[NOSE, 1] - top_wrist) / height)
