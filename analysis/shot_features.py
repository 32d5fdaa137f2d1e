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
)
_MOMENT = {name: MOMENT_NAMES.index(name) for name in MOMENT_NAMES}


@dataclass(frozen=True)
class HitContext:
    """One hit as the shot classifier sees it."""

    time: float
    player: str  # "near" | "far"
    court_xy: np.ndarray | None  # the hitter's feet, court metres
    pose: Pose | None
    moment: np.ndarray | None  # the hit's moment features (analysis.hit_features)


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
            _wrist_over_head(hit.pose),
            moment[_MOMENT["speed_before"]],
            moment[_MOMENT["speed_after"]],
            toward * moment[_MOMENT["vy_before"]],
            toward * moment[_MOMENT["vy_after"]],
            moment[_MOMENT["turn_200"]],
        ],
        dtype=np.float64,
    )


def _depth(court_xy: np.ndarray | None) -> float:
    """Metres from the net (0 at the net, 6.7 at the back line)."""
    return float(abs(court_xy[1] - NET_Y)) if court_xy is not None else np.nan


def _side(court_xy: np.ndarray | None) -> float:
    """Metres from the centre line, either way."""
    return float(abs(court_xy[0] - COURT_WIDTH / 2)) if court_xy is not None else np.nan


def _wrist_over_head(pose: Pose | None) -> float:
    """How far the higher wrist is above the nose, in body heights (negative: below)."""
    if pose is None:
        return np.nan
    height = max(pose.height_px(), 1.0)
    top_wrist = min(pose.landmarks[LEFT_WRIST, 1], pose.landmarks[RIGHT_WRIST, 1])
    return float((pose.landmarks[NOSE, 1] - top_wrist) / height)
