"""Features of one moment of play that tell a hit from flight: pure numpy on short windows.

Used both to train the hit model (tools/train_hits.py, on cached tracks) and by the live
HitDetector, so the two always compute the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.pose import Pose

SCALES_S = (0.1, 0.2, 0.3)  # windows each side of the moment for the velocity fits
SPEED_FLOOR = 0.05  # frame heights per second: below this the shuttle is "still"

FEATURE_NAMES = (
    *(f"kink_{int(s * 1000)}" for s in SCALES_S),
    *(f"turn_{int(s * 1000)}" for s in SCALES_S),
    "speed_before",
    "speed_after",
    "vy_before",
    "vy_after",
    "seen_before",
    "seen_after",
    "seen_now",
    "near_reach",
    "far_reach",
    "near_wrist",
    "far_wrist",
    "net_offset",
    "quiet_before",
    "near_height",
    "far_height",
)
QUIET_CAP_S = 2.0  # "unseen for this long or more": the shuttle was out of play (a serve)
# Window edges are widened by this much: timestamps are rounded, and a sample that lies
# exactly on an edge (every third one at 30 fps, every one at 10 fps) must count every time.
EDGE_S = 1e-3


@dataclass(frozen=True)
class PlayerShape:
    """What the hit features need of a player at one moment (image pixels)."""

    box: tuple[float, float, float, float]
    wrists: np.ndarray  # (2, 2)

    @property
    def height(self) -> float:
        return max(self.box[3] - self.box[1], 1.0)

    @classmethod
    def from_pose(cls, pose: Pose) -> PlayerShape:
        return cls(pose.box(), pose.wrists())


def _fit_velocity(t: np.ndarray, xy: np.ndarray) -> np.ndarray | None:
    """Least-squares slope of xy over t (the velocity), in closed form."""
    if len(t) < 2 or np.ptp(t) <= 0:
        return None
    dt = t - t.mean()
    return (dt @ (xy - xy.mean(axis=0))) / (dt @ dt)


def moment_features(
    times: np.ndarray,
    xy: np.ndarray,
    i: int,
    frame_height: float,
    players: dict[str, PlayerShape | None],
    net_y: float,
) -> np.ndarray:
    """Features of sample i of a shuttle track (`xy` (N, 2) pixels, NaN where unseen).

    `net_y` is the image row of the net's foot at the middle of the court.
    """
    t0 = times[i]
    seen = ~np.isnan(xy[:, 0])
    feats: list[float] = []
    kinks, turns = [], []
    velocities: dict[float, tuple] = {}
    for scale in SCALES_S:
        before = seen & (times >= t0 - scale - EDGE_S) & (times <= t0)
        after = seen & (times >= t0) & (times <= t0 + scale + EDGE_S)
        vb = _fit_velocity(times[before] - t0, xy[before]) if before.sum() >= 2 else None
        va = _fit_velocity(times[after] - t0, xy[after]) if after.sum() >= 2 else None
        velocities[scale] = (vb, va)
        if vb is None or va is None:
            kinks.append(np.nan)
            turns.append(np.nan)
            continue
        vb, va = vb / frame_height, va / frame_height
        norm = max(np.linalg.norm(vb), np.linalg.norm(va)) + SPEED_FLOOR
        kinks.append(float(np.linalg.norm(va - vb) / norm))
        denom = np.linalg.norm(vb) * np.linalg.norm(va)
        turns.append(float(np.dot(vb, va) / denom) if denom > 1e-9 else np.nan)
    feats += kinks + turns

    vb, va = velocities[0.2]
    for v in (vb, va):
        feats.append(float(np.linalg.norm(v) / frame_height) if v is not None else np.nan)
    for v in (vb, va):
        feats.append(float(v[1] / frame_height) if v is not None else np.nan)
    window = 0.2 + EDGE_S
    n_before = np.sum((times >= t0 - window) & (times < t0))
    n_after = np.sum((times > t0) & (times <= t0 + window))
    feats.append(float(np.sum(seen & (times >= t0 - window) & (times < t0)) / max(n_before, 1)))
    feats.append(float(np.sum(seen & (times > t0) & (times <= t0 + window)) / max(n_after, 1)))
    feats.append(1.0 if seen[i] else 0.0)

    point = _nearest_seen(times, xy, i, max_gap=0.1)
    reach, wrist = [], []
    for side in ("near", "far"):
        shape = players.get(side)
        if shape is None or point is None:
            reach.append(np.nan)
            wrist.append(np.nan)
            continue
        reach.append(_box_distance(shape.box, point) / shape.height)
        wrist.append(float(np.min(np.linalg.norm(shape.wrists - point, axis=1))) / shape.height)
    feats += reach + wrist
    feats.append(float((point[1] - net_y) / frame_height) if point is not None else np.nan)
    earlier = np.flatnonzero(seen & (times < t0 - 0.05))
    quiet = t0 - times[earlier[-1]] if len(earlier) else QUIET_CAP_S
    feats.append(float(min(quiet, QUIET_CAP_S)))
    # Where the shuttle is up the body: rackets meet it above the waist, the floor at the feet.
    for side in ("near", "far"):
        shape = players.get(side)
        if shape is None or point is None:
            feats.append(np.nan)
        else:
            feats.append(float((shape.box[3] - point[1]) / shape.height))
    return np.asarray(feats, dtype=np.float64)


def _nearest_seen(times: np.ndarray, xy: np.ndarray, i: int, max_gap: float) -> np.ndarray | None:
    seen = np.flatnonzero(~np.isnan(xy[:, 0]))
    if len(seen) == 0:
        return None
    j = seen[np.argmin(np.abs(times[seen] - times[i]))]
    return xy[j] if abs(times[j] - times[i]) <= max_gap + EDGE_S else None


def _box_distance(box: tuple[float, float, float, float], p: np.ndarray) -> float:
    x0, y0, x1, y1 = box
    dx = max(x0 - p[0], 0.0, p[0] - x1)
    dy = max(y0 - p[1], 0.0, p[1] - y1)
    return float(np.hypot(dx, dy))
