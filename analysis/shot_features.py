"""Features of one hit that tell the shot types apart: pure numpy.

Where the hitter stood, whether the stroke was overhead, how the shuttle left the racket
(image speed and direction just after the hit, taken from the hit's moment features), and
where it went: the receiver's position and the flight time to the next hit. Shared by the
training script (tools/train_shots.py) and the ShotClassifier.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.court import COURT_WIDTH, NET_Y
from analysis.hit_features import FEATURE_NAMES as MOMENT_NAMES
from analysis.pose import LEFT_WRIST, NOSE, RIGHT_WRIST, Pose

FEATURE_NAMES = (
    "serve",
    "last",
    "hitter_depth",
    "hitter_side",
    "receiver_depth",
    "receiver_side",
    "flight_time",
    "since_previous",
    "wrist_over_head",
    "speed_before",
    "speed_after",
    "toward_before",
    "toward_after",
    "turn_200",
    "rise",
    "flight_dy",
    "flight_dx",
)
FLIGHT_S = 1.5  # how much of the flight after a hit is looked at when no next hit is known
POSE_WINDOW_S = 0.2  # poses this close to the hit count for "overhead"
_MOMENT = {name: MOMENT_NAMES.index(name) for name in MOMENT_NAMES}


@dataclass(frozen=True)
class HitContext:
    """One hit as the shot classifier sees it."""

    time: float
    player: str  # "near" | "far"
    court_xy: np.ndarray | None  # the hitter's feet, court metres
    poses: tuple[Pose, ...]  # the hitter's poses within POSE_WINDOW_S of the hit
    moment: np.ndarray | None  # the hit's moment features (analysis.hit_features)
    flight: np.ndarray  # (N, 2) shuttle pixels seen from the hit to the next hit
    frame_height: float = 720.0


def shot_features(
    hit: HitContext,
    next_hit: HitContext | None,
    previous_time: float | None,
    index_in_rally: int,
) -> np.ndarray:
    nan = np.nan
    receiver = next_hit.court_xy if next_hit is not None else None
    moment = hit.moment if hit.moment is not None else np.full(len(MOMENT_NAMES), nan)
    # Image y grows toward the camera: "toward" the opponent is up for the near player.
    toward = -1.0 if hit.player == "near" else 1.0
    return np.array(
        [
            1.0 if index_in_rally == 0 else 0.0,
            1.0 if next_hit is None else 0.0,
            _depth(hit.court_xy),
            _side(hit.court_xy),
            _depth(receiver),
            _side(receiver),
            next_hit.time - hit.time if next_hit is not None else nan,
            hit.time - previous_time if previous_time is not None else nan,
            max((_wrist_over_head(p) for p in hit.poses), default=nan),
            moment[_MOMENT["speed_before"]],
            moment[_MOMENT["speed_after"]],
            toward * moment[_MOMENT["vy_before"]],
            toward * moment[_MOMENT["vy_after"]],
            moment[_MOMENT["turn_200"]],
            *_flight_shape(hit.flight, hit.frame_height),
        ],
        dtype=np.float64,
    )


def _depth(court_xy: np.ndarray | None) -> float:
    """Metres from the net (0 at the net, 6.7 at the back line)."""
    return float(abs(court_xy[1] - NET_Y)) if court_xy is not None else np.nan


def _side(court_xy: np.ndarray | None) -> float:
    """Metres from the centre line, either way."""
    return float(abs(court_xy[0] - COURT_WIDTH / 2)) if court_xy is not None else np.nan


def _flight_shape(flight: np.ndarray, frame_height: float) -> tuple[float, float, float]:
    """How high the shuttle climbs in the image after the hit (lifts and clears climb, drives
    and smashes do not), and where it ends up relative to the hit, in frame heights."""
    if len(flight) < 3:
        return np.nan, np.nan, np.nan
    start = flight[:2].mean(axis=0)
    end = flight[-2:].mean(axis=0)
    rise = (start[1] - flight[:, 1].min()) / frame_height
    return (
        float(rise),
        float((end[1] - start[1]) / frame_height),
        float(abs(end[0] - start[0]) / frame_height),
    )


def _wrist_over_head(pose: Pose) -> float:
    """How far the higher wrist is above the nose, in body heights (negative: below)."""
    height = max(pose.height_px(), 1.0)
    top_wrist = min(pose.landmarks[LEFT_WRIST, 1], pose.landmarks[RIGHT_WRIST, 1])
    return float((pose.landmarks[NOSE, 1] - top_wrist) / height)
