"""Features of one moment of play that tell a hit from flight: pure numpy on short windows.

Used both to train the hit model (tools/train_hits.py, on cached tracks) and by the live
HitDetector, so the two always compute the same thing.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.pose import LEFT_SHOULDER, LEFT_WRIST, RIGHT_SHOULDER, RIGHT_WRIST, Pose

SCALES_S = (0.1, 0.2, 0.3)  # windows each side of the moment for the velocity fits
SWING_WINDOW_S = 0.3  # poses this close to a moment show whether a player swung there
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
    "history",
    "near_height",
    "far_height",
    "near_swing",
    "far_swing",
    "interval",
)
QUIET_CAP_S = 2.0  # "unseen for this long or more": the shuttle was out of play (a serve)
# Window edges are widened by this much: timestamps are rounded, and a sample that lies
# exactly on an edge (every third one at 30 fps, every one at 10 fps) must count every time.
EDGE_S = 1e-3
# Every window of a moment's features lies within this much of it (with room for rounding),
# but for the last sample seen before it (quiet_before) and the first one (history).
REACH_S = max(SCALES_S) + EDGE_S + 0.01
# How far back a moment's features can look: quiet_before (the last sample seen before the
# moment) and history (the first sample of the track) count no more than QUIET_CAP_S.
FEATURE_LOOKBACK_S = QUIET_CAP_S + REACH_S


@dataclass(frozen=True)
class PlayerShape:
    """What the hit features need of a player at one moment (image pixels)."""

    box: tuple[float, float, float, float]
    wrists: np.ndarray  # (2, 2)
    swing: float = np.nan  # wrist_travel of the poses within SWING_WINDOW_S of the moment

    @property
    def height(self) -> float:
        return box_height(self.box)

    @classmethod
    def from_pose(cls, pose: Pose, swing: float = np.nan) -> PlayerShape:
        return cls(pose.box(), pose.wrists(), swing)


def box_height(box: tuple[float, float, float, float]) -> float:
    """A pose's height in pixels, from its box (at least 1: a body's size divides)."""
    return max(box[3] - box[1], 1.0)


def swing_window(time: float) -> tuple[float, float]:
    """The times of the poses that show a swing at `time` (both ends included, widened by
    EDGE_S: a pose often lies exactly SWING_WINDOW_S away)."""
    return time - SWING_WINDOW_S - EDGE_S, time + SWING_WINDOW_S + EDGE_S


# A pose as the swing needs it: the left and the right wrist against the shoulders' midpoint
# (x, y each) and the pose's height, in pixels.
SwingPoint = tuple[float, float, float, float, float]


def swing_point(pose: Pose) -> SwingPoint:
    lm = pose.landmarks
    sx = (lm[LEFT_SHOULDER, 0] + lm[RIGHT_SHOULDER, 0]) / 2
    sy = (lm[LEFT_SHOULDER, 1] + lm[RIGHT_SHOULDER, 1]) / 2
    return (
        float(lm[LEFT_WRIST, 0] - sx),
        float(lm[LEFT_WRIST, 1] - sy),
        float(lm[RIGHT_WRIST, 0] - sx),
        float(lm[RIGHT_WRIST, 1] - sy),
        box_height(pose.box()),
    )


def wrist_travel(points: Sequence[SwingPoint]) -> float:
    """How far a wrist moved against the shoulders over some poses (their `swing_point`s),
    in body heights: the widest spread of either wrist's positions (a stroke moves the
    racket arm by most of a body height, waiting or running by little). NaN with fewer
    than two poses. Plain Python: a handful of points, scored for every moment."""
    if len(points) < 2:
        return np.nan
    spread = 0.0
    for k, a in enumerate(points):
        for b in points[k + 1 :]:
            spread = max(spread, math.hypot(a[0] - b[0], a[1] - b[1]))
            spread = max(spread, math.hypot(a[2] - b[2], a[3] - b[3]))
    return spread / statistics.median(p[4] for p in points)


def moment_features(
    times: np.ndarray,
    xy: np.ndarray,
    i: int,
    frame_height: float,
    players: dict[str, PlayerShape | None],
    net_y: float,
) -> np.ndarray:
    """Features of sample i of a shuttle track (`times` ascending, `xy` (N, 2) pixels, NaN
    where unseen).

    `net_y` is the image row of the net's foot at the middle of the court. Only the samples
    within REACH_S of the moment count, the last one seen before it (quiet_before) and the
    first one (history).
    """
    t0 = float(times[i])
    lo, hi = np.searchsorted(times, (t0 - REACH_S, t0 + REACH_S))
    # Times out of order give wrong features, but no error.
    lo, hi = min(lo, i), max(hi, i + 1)
    around = _Around(times[lo:hi], xy[lo:hi], t0)
    feats: list[float] = []
    kinks, turns = [], []
    velocities: dict[float, tuple] = {}
    for scale in SCALES_S:
        vb = around.velocity(t0 - scale - EDGE_S, t0)
        va = around.velocity(t0, t0 + scale + EDGE_S)
        velocities[scale] = (vb, va)
        if vb is None or va is None:
            kinks.append(np.nan)
            turns.append(np.nan)
            continue
        vb = (vb[0] / frame_height, vb[1] / frame_height)
        va = (va[0] / frame_height, va[1] / frame_height)
        norm = max(_norm(vb), _norm(va)) + SPEED_FLOOR
        kinks.append(_norm((va[0] - vb[0], va[1] - vb[1])) / norm)
        denom = _norm(vb) * _norm(va)
        turns.append(_dot(vb, va) / denom if denom > 1e-9 else np.nan)
    feats += kinks + turns

    vb, va = velocities[0.2]
    for v in (vb, va):
        feats.append(_norm(v) / frame_height if v is not None else np.nan)
    for v in (vb, va):
        feats.append(v[1] / frame_height if v is not None else np.nan)
    window = 0.2 + EDGE_S
    feats.append(around.seen_fraction(t0 - window, t0, closed_start=True))
    feats.append(around.seen_fraction(t0, t0 + window, closed_start=False))
    feats.append(1.0 if around.seen_at(i - lo) else 0.0)

    point = around.nearest_seen(max_gap=0.1)
    reach, wrist = [], []
    for side in ("near", "far"):
        shape = players.get(side)
        if shape is None or point is None:
            reach.append(np.nan)
            wrist.append(np.nan)
            continue
        reach.append(_box_distance(shape.box, point) / shape.height)
        wrist.append(_wrist_distance(shape.wrists, point) / shape.height)
    feats += reach + wrist
    feats.append((point[1] - net_y) / frame_height if point is not None else np.nan)
    last_seen = around.last_seen_before(t0 - 0.05)
    if last_seen is None:  # not seen since before the window: look further back
        earlier = np.flatnonzero(~np.isnan(xy[:lo, 0]))
        last_seen = float(times[earlier[-1]]) if len(earlier) else None
    quiet = t0 - last_seen if last_seen is not None else QUIET_CAP_S
    feats.append(float(min(quiet, QUIET_CAP_S)))
    # How much track there is before the moment: at the start of a video or a stream, "not
    # seen before" says nothing of how long the shuttle was out of play.
    feats.append(float(min(t0 - float(times[0]), QUIET_CAP_S)))
    # Where the shuttle is up the body: rackets meet it above the waist, the floor at the feet.
    for side in ("near", "far"):
        shape = players.get(side)
        if shape is None or point is None:
            feats.append(np.nan)
        else:
            feats.append((shape.box[3] - point[1]) / shape.height)
    for side in ("near", "far"):
        shape = players.get(side)
        feats.append(shape.swing if shape is not None else np.nan)
    # Seconds between samples here: how many poses and track points the moment stands on.
    feats.append(float(np.median(np.diff(times[lo:hi]))) if hi - lo > 1 else np.nan)
    return np.asarray(feats, dtype=np.float64)


class _Around:
    """The samples around one moment, as Python numbers where the work is per sample.

    Arrays are tiny here: a numpy call costs more than its arithmetic, so the windows are
    found by bisection, and numpy is kept for the velocity fits alone, with the operations
    (and so the rounding) of a fit over the whole track.
    """

    def __init__(self, times: np.ndarray, xy: np.ndarray, t0: float) -> None:
        self.t0 = t0
        self.times = times.tolist()
        seen = ~np.isnan(xy[:, 0])
        self.seen = seen.tolist()
        index = np.flatnonzero(seen)
        seen_times = times[index]
        self.seen_times = seen_times.tolist()  # ascending
        self.offsets = seen_times - t0  # of the seen samples, seconds from the moment
        self.offset_list = self.offsets.tolist()
        self.points = xy[index]
        self._fits: dict[tuple[int, int], tuple[float, float]] = {}

    def velocity(self, start: float, end: float) -> tuple[float, float] | None:
        """Least-squares velocity of the seen samples from `start` to `end` (inclusive)."""
        a = bisect_left(self.seen_times, start)
        b = bisect_right(self.seen_times, end)
        # Two samples or more, spread in time.
        if b - a < 2 or self.offset_list[b - 1] - self.offset_list[a] <= 0:
            return None
        if (a, b) not in self._fits:  # scales often span the same samples (gaps, low rates)
            vx, vy = _fit_velocity(self.offsets[a:b], self.points[a:b]).tolist()
            self._fits[a, b] = vx, vy
        return self._fits[a, b]

    def seen_fraction(self, start: float, end: float, closed_start: bool) -> float:
        """Share of the samples seen, from `start` to `end`, one end open."""
        if closed_start:  # [start, end)
            a, b = bisect_left(self.times, start), bisect_left(self.times, end)
        else:  # (start, end]
            a, b = bisect_right(self.times, start), bisect_right(self.times, end)
        return sum(self.seen[a:b]) / max(b - a, 1)

    def seen_at(self, k: int) -> bool:
        return self.seen[k]

    def nearest_seen(self, max_gap: float) -> tuple[float, float] | None:
        """The seen point nearest in time to the moment (the earlier one of a tie), if
        within `max_gap`."""
        best, best_gap = -1, np.inf
        for k, t in enumerate(self.seen_times):
            gap = abs(t - self.t0)
            if gap < best_gap:
                best, best_gap = k, gap
        if best < 0 or best_gap > max_gap + EDGE_S:
            return None
        x, y = self.points[best].tolist()
        return x, y

    def last_seen_before(self, time: float) -> float | None:
        """Time of the last seen sample earlier than `time`, if in the window."""
        k = bisect_left(self.seen_times, time)
        return self.seen_times[k - 1] if k else None


def _fit_velocity(t: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Least-squares slope of xy over t (the velocity), in closed form."""
    n = len(t)
    # The means as ndarray.mean computes them, without its overhead.
    dt = t - np.add.reduce(t) / n
    return (dt @ (xy - np.add.reduce(xy, axis=0) / n)) / (dt @ dt)


def _dot(u: tuple[float, float], v: tuple[float, float]) -> float:
    # Summed from 0.0 as np.dot does: the same float, the sign of a zero included.
    return 0.0 + u[0] * v[0] + u[1] * v[1]


def _norm(v: tuple[float, float]) -> float:
    return math.sqrt(_dot(v, v))


def _wrist_distance(wrists: np.ndarray, p: tuple[float, float]) -> float:
    """Distance from `p` to the nearer wrist (NaN if a wrist is unknown)."""
    distances = []
    for x, y in wrists.tolist():
        dx, dy = x - p[0], y - p[1]
        distances.append(math.sqrt(dx * dx + dy * dy))
    return np.nan if any(math.isnan(d) for d in distances) else min(distances)


def _box_distance(box: tuple[float, float, float, float], p: tuple[float, float]) -> float:
    x0, y0, x1, y1 = box
    dx = max(x0 - p[0], 0.0, p[0] - x1)
    dy = max(y0 - p[1], 0.0, p[1] - y1)
    return float(np.hypot(dx, dy))
