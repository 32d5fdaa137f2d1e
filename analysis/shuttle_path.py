"""The most likely shuttle path through per-frame candidates, found online with a fixed lag.

States are edges: a candidate in an earlier frame (up to `max_gap` frames back) joined to
one in the current frame. An edge either continues an edge that ended at its first
candidate, if its end lies where that edge's velocity predicts (constant velocity, time in
seconds), or starts a new segment after the best path that ended before it, paying
`restart`. Every candidate on the path adds its score plus `bias`; frames skipped inside a
segment cost `gap_penalty` each. The best path so far ends at the best-scoring edge or,
when nothing is worth taking, nowhere: positions are read from it by backtracking.

Below `full_rate` frames a second a flight has fewer points to pay for its start, and short
ones (a serve, a net shot: 0.3-0.5 s) went untracked at 10 fps; `restart` shrinks there with
the square root of the rate.

A segment skips a frame only across at most `max_skip_s`. The gate around a prediction grows
with the time it spans: across a skip at 10 fps (0.2 s) it is about 100 px for a shuttle at
500 px/s, wide enough for a path to run straight on through a hit, drop the point where the
racket met the shuttle, and fill that frame in along the straight line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analysis.sample_rate import RecentInterval

RATE_WINDOW = 9  # the frame rate is judged from the intervals between this many recent frames


@dataclass(frozen=True)
class PathParams:
    """Tracker settings. Distances and speeds are image pixels of a 1280-px-wide frame."""

    delay: int = 6  # distinct frames between a frame's detection and its final position
    bias: float = 1.25  # added to every candidate's log-odds on the path
    restart: float = 9.0  # cost of starting a segment (a hit, or the shuttle found again)
    full_rate: float = 25.0  # frames a second from which `restart` is paid in full
    max_gap: int = 2  # a segment may join frames this far apart (skipping max_gap - 1)
    max_skip_s: float = 0.15  # ... when they are at most this many seconds apart
    gap_penalty: float = 0.5  # per skipped frame inside a segment
    bridge_gap: int = 2  # frames apart two segments may be for the gap to be filled in
    r0: float = 5.0  # px, gate radius around the predicted position
    rv: float = 0.45  # gate growth per px of predicted motion
    ra: float = 1500.0  # px/s^2, gate growth for drag and gravity
    vmax: float = 4000.0  # px/s, fastest shuttle (a smash seen from behind)
    slow_speed: float = 120.0  # px/s; slower edges pay up to slow_penalty (a drifting shoe)
    slow_penalty: float = 1.0
    residual_weight: float = 1.0  # cost of a miss at the edge of the gate
    score_clip: float = 4.0  # candidate log-odds are clipped to +-this
    body_penalty: float = 6.0  # taken off (clipped) log-odds at a player's feet
    max_edges: int = 64  # best edges kept per frame


@dataclass
class _Frame:
    time: float
    xy: np.ndarray  # (n, 2)
    gain: np.ndarray  # (n,) what each candidate adds to a path
    best: float  # best path score ending at or before this frame
    best_ptr: tuple[int, int] | None  # (frame index, edge) where that path ends
    # Edges ending here: source frame, source candidate, this frame's candidate, path score,
    # velocity (px/s), and the edge they continue (-1: a new segment).
    src: np.ndarray
    src_cand: np.ndarray
    dst_cand: np.ndarray
    score: np.ndarray
    velocity: np.ndarray
    back: np.ndarray


class PathSearch:
    """Online best-path search; frames are numbered 0, 1, ... in the order added."""

    def __init__(self, params: PathParams, scale: float = 1.0) -> None:
        self.p = params
        self.r0, self.ra, self.vmax = params.r0 * scale, params.ra * scale, params.vmax * scale
        self.vslow = params.slow_speed * scale
        self._frames: dict[int, _Frame] = {}
        self.frames = 0
        self._path: dict[int, tuple[np.ndarray, int]] | None = None  # index -> (xy, segment)
        self._oldest_needed = 0
        self._interval = RecentInterval(RATE_WINDOW - 1)
        self.restart = params.restart  # what starting a segment costs at the current rate

    def add(self, time: float, xy: np.ndarray, score: np.ndarray) -> None:
        """Adds the next frame's candidates (image px) and their log-odds."""
        p = self.p
        index = self.frames
        prev = self._frames.get(index - 1)
        gain = np.clip(score, -p.score_clip, p.score_clip) + p.bias
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        best, best_ptr = (prev.best, prev.best_ptr) if prev else (0.0, None)
        self._interval.add(time)
        if self._interval.median:  # a rate is known
            rate = 1.0 / self._interval.median
            self.restart = p.restart * min(1.0, math.sqrt(rate / p.full_rate))
        frame = _Frame(time, xy, gain, best, best_ptr, *_no_edges())
        self._frames[index] = frame
        self.frames += 1
        self._path = None
        if len(frame.xy):
            self._link(index, frame)

    def _link(self, index: int, cur: _Frame) -> None:
        parts = []
        for gap in range(1, self.p.max_gap + 1):
            src = self._frames.get(index - gap)
            if src is None or len(src.xy) == 0:
                continue
            if gap > 1 and cur.time - src.time > self.p.max_skip_s:
                continue
            part = self._edges_from(index - gap, src, cur, gap)
            if part is not None:
                parts.append(part)
        if not parts:
            return
        columns = [np.concatenate(column) for column in zip(*parts)]
        if len(columns[3]) > self.p.max_edges:
            keep = np.argpartition(-columns[3], self.p.max_edges)[: self.p.max_edges]
            columns = [c[keep] for c in columns]
        cur.src, cur.src_cand, cur.dst_cand, cur.score, cur.velocity, cur.back = columns
        e = int(np.argmax(cur.score))
        if cur.score[e] > cur.best:
            cur.best, cur.best_ptr = float(cur.score[e]), (index, e)

    def _edges_from(self, j: int, src: _Frame, cur: _Frame, gap: int):
        p = self.p
        dt = cur.time - src.time
        if dt <= 0:
            return None
        delta = cur.xy[None, :, :] - src.xy[:, None, :]  # (n_src, n_cur, 2)
        dist = np.hypot(delta[..., 0], delta[..., 1])
        reachable = dist <= self.vmax * dt
        if not reachable.any():
            return None
        # Body parts drift slowly; a flying shuttle rarely does for long.
        slow = p.slow_penalty * np.maximum(0.0, 1.0 - dist / (self.vslow * dt))
        before = self._frames.get(j - 1)
        restart = (before.best if before else 0.0) - self.restart
        best = restart + src.gain[:, None] + cur.gain[None, :] - slow
        back = np.full(best.shape, -1, dtype=np.int64)
        if len(src.score):
            self._continue(src, cur, dt, gap, best, back, slow)
        best[~reachable] = -np.inf
        bi, ci = np.nonzero(np.isfinite(best))
        if len(bi) == 0:
            return None
        return (
            np.full(len(bi), j),
            bi,
            ci,
            best[bi, ci],
            delta[bi, ci] / dt,
            back[bi, ci],
        )

    def _continue(
        self,
        src: _Frame,
        cur: _Frame,
        dt: float,
        gap: int,
        best: np.ndarray,
        back: np.ndarray,
        slow: np.ndarray,
    ) -> None:
        """Improves `best`/`back` (n_src, n_cur) with edges that continue a segment."""
        p = self.p
        start = src.xy[src.dst_cand]  # where each incoming edge ends
        predicted = start[:, None, :] + src.velocity[:, None, :] * dt
        residual = np.hypot(*(cur.xy[None, :, :] - predicted).transpose(2, 0, 1))  # (ne, n_cur)
        speed = np.hypot(src.velocity[:, 0], src.velocity[:, 1])
        radius = (self.r0 + p.rv * speed * dt + self.ra * dt * dt)[:, None]
        total = (
            src.score[:, None]
            + cur.gain[None, :]
            - p.residual_weight * (residual / radius) ** 2
            - p.gap_penalty * (gap - 1)
        )
        total[residual > radius] = -np.inf
        # For each (source candidate, current candidate), the best edge ending at the former.
        n_edges, n_cur = total.shape
        grid = np.full((len(src.xy), n_edges, n_cur), -np.inf)
        grid[src.dst_cand, np.arange(n_edges), :] = total - slow[src.dst_cand]
        arg = grid.argmax(axis=1)
        value = np.take_along_axis(grid, arg[:, None, :], axis=1)[:, 0, :]
        better = value > best
        best[better] = value[better]
        back[better] = arg[better]

    def position(self, index: int) -> tuple[tuple[float, float] | None, bool]:
        """The shuttle's position in frame `index` on the best path: (xy, interpolated)."""
        if self._path is None:
            self._path = self._backtrack()
        self._oldest_needed = max(self._oldest_needed, index)
        hit = self._path.get(index)
        if hit is not None:
            return (float(hit[0][0]), float(hit[0][1])), False
        reach = max(self.p.max_gap, self.p.bridge_gap)
        before = next((i for i in range(index - 1, index - reach - 1, -1) if i in self._path), None)
        after = next((i for i in range(index + 1, index + reach + 1) if i in self._path), None)
        if before is None or after is None:
            return None, False
        (xy0, seg0), (xy1, seg1) = self._path[before], self._path[after]
        limit = self.p.max_gap if seg0 == seg1 else self.p.bridge_gap
        if after - before > limit:
            return None, False
        t0, t1, t = self._frames[before].time, self._frames[after].time, self._frames[index].time
        w = (t - t0) / (t1 - t0)
        xy = xy0 + w * (xy1 - xy0)
        return (float(xy[0]), float(xy[1])), True

    def _backtrack(self) -> dict[int, tuple[np.ndarray, int]]:
        path: dict[int, tuple[np.ndarray, int]] = {}
        last = self._frames.get(self.frames - 1)
        ptr = last.best_ptr if last else None
        stop = self._oldest_needed - max(self.p.max_gap, self.p.bridge_gap) - 1
        segment = 0
        while ptr is not None and ptr[0] >= stop:
            j, e = ptr
            frame = self._frames[j]
            path[j] = (frame.xy[frame.dst_cand[e]], segment)
            src_index = int(frame.src[e])
            src = self._frames.get(src_index)
            if src is None:
                break
            if frame.back[e] >= 0:
                ptr = (src_index, int(frame.back[e]))
                continue
            path[src_index] = (src.xy[frame.src_cand[e]], segment)
            segment += 1
            before = self._frames.get(src_index - 1)
            ptr = before.best_ptr if before else None
        return path

    def forget_before(self, index: int) -> None:
        """Drops frames that no final position or new edge can need any more."""
        keep_from = (
            min(index, self.frames - self.p.max_gap - 2)
            - max(self.p.max_gap, self.p.bridge_gap)
            - 1
        )
        for j in [j for j in self._frames if j < keep_from]:
            del self._frames[j]


def _no_edges() -> tuple[np.ndarray, ...]:
    empty_int = np.zeros(0, dtype=np.int64)
    return empty_int, empty_int, empty_int, np.zeros(0), np.zeros((0, 2)), empty_int
