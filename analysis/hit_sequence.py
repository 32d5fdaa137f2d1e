"""Choosing the hits of a rally as a whole: players take turns, and hits are apart.

Candidates are the moments where the hit model's probability peaks. Taking one as a hit by a
player is worth

    logit(p) - logit(threshold)     (positive when the hit model is surer than the threshold)
    + weight * log(2 q)             for the near player, log(2 (1 - q)) for the far one,

with q the hitter model's probability that the near player hit. Two hits in a row by the same
player within a rally cost `same_player_penalty` (a hit between them was missed), and hits
closer than `min_gap_s` cannot both be. A rally opens with a serve, and the laws keep both
server and receiver standing still until it is struck: opening one with a hit when either
player moved more than STILL_M just before costs `moving_start_penalty` (it is a return of a
missed serve, and a weaker candidate up to SERVE_BEFORE_S before it may be that serve). With
no candidate there, and one of them still (the server, just after serving), it is a return
whose serve was never a candidate (too close to it, or the shuttle not yet tracked): it opens
the rally at no cost. The best sequence, the one worth most, is found by dynamic programming
over the candidates in time order (Viterbi): a candidate's best score as the latest hit, per
player, is its worth plus the best score it can follow.

A hit sends the shuttle off. Where the best sequence ends a rally with a candidate after which
the shuttle is not seen once in FLIGHT_AFTER_S, that was where it landed (or was caught): it is
dropped when it is committed, once no later hit can join its rally. Within a rally such a
candidate stays, since the next hit proves a flight that was only missed; no hit is added to
keep it.

Online, candidates arrive in time order and `path()` is the best sequence so far; a later
candidate may still change it (drop a hit, add one, give one to the other player). `commit`
makes the hits before a time final: later candidates can only follow them.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter
from typing import Generic, TypeVar

import numpy as np

from analysis.rallies import MAX_GAP_S
from analysis.sample_rate import RecentInterval
from analysis.shot_features import STILL_M

PLAYERS = ("near", "far")
T = TypeVar("T")

# Smoothing windows are in seconds, not samples: the analyzer gets 5 to 30 frames a second.
HIT_SMOOTHING_S = 2 / 30  # triangle half-width: weights 1/4, 1/2, 1/4 at 30 fps
HITTER_SMOOTHING_S = 2.5 / 30  # box half-width: five equal weights at 30 fps
SMOOTHING_REACH_S = max(HIT_SMOOTHING_S, HITTER_SMOOTHING_S) + 0.01  # with room for rounding
CANDIDATE_FLOOR = 0.03  # smoothed hit probability below which a moment is never a candidate
LOOKBACK_S = 3.0  # hits this much older than the newest moment are final
INTERVAL_HISTORY = 30  # sample intervals the rate is judged on
EDGE_S = 1e-3  # timestamps are rounded: window edges are widened by this much
SERVE_BEFORE_S = 2.0  # a serve is at most this long before its return
# Seconds after a hit in which its shuttle is seen in flight, if it is ever seen: past the
# racket and the hitter's body, and short of any return (the quickest are ~0.3 s apart).
FLIGHT_AFTER_S = (0.3, 1.0)


@dataclass(frozen=True)
class SequenceParams:
    threshold: float = 0.3  # hit probability at which a lone candidate is worth taking
    same_player_penalty: float = 1.7  # log-odds: about one hit in six is missed
    hitter_weight: float = 0.5  # the hitter model is overconfident: its log-odds count half
    min_gap_s: float = 0.3  # the shortest time between two hits of a rally (a net exchange)
    rally_gap_s: float = MAX_GAP_S  # no hit for this long: a new rally, turns start afresh
    moving_start_penalty: float = 0.0  # log-odds: a rally opened by a player on the move


@dataclass(frozen=True)
class PickerParams:
    """How hits are picked; the threshold depends on the sample rate, since sparser samples
    carry less evidence of the turn each and the model is less sure at a true hit."""

    # (sample interval in seconds, threshold), by increasing interval; interpolated between.
    thresholds: tuple[tuple[float, float], ...] = ((1 / 30, 0.3), (1 / 10, 0.2))
    same_player_penalty: float = 1.7
    hitter_weight: float = 0.5
    min_gap_s: float = 0.3
    rally_gap_s: float = MAX_GAP_S
    moving_start_penalty: float = 0.0

    @property
    def reach_s(self) -> float:
        """How far after a moment the track must be scored before it can be a candidate."""
        return self.min_gap_s / 2 + HIT_SMOOTHING_S + HITTER_SMOOTHING_S

    def threshold_for(self, interval: float | None) -> float:
        if interval is None:
            return self.thresholds[0][1]
        xs, ys = zip(*self.thresholds)
        return float(np.interp(interval, xs, ys))

    def sequence_for(self, interval: float | None) -> SequenceParams:
        return SequenceParams(
            self.threshold_for(interval),
            self.same_player_penalty,
            self.hitter_weight,
            self.min_gap_s,
            self.rally_gap_s,
            self.moving_start_penalty,
        )

    def to_json(self) -> dict:
        return {
            "thresholds": [list(t) for t in self.thresholds],
            "same_player_penalty": self.same_player_penalty,
            "hitter_weight": self.hitter_weight,
            "min_gap_s": self.min_gap_s,
            "rally_gap_s": self.rally_gap_s,
            "moving_start_penalty": self.moving_start_penalty,
        }

    @classmethod
    def from_json(cls, data: dict) -> PickerParams:
        return cls(
            tuple((float(a), float(b)) for a, b in data["thresholds"]),
            float(data["same_player_penalty"]),
            float(data["hitter_weight"]),
            float(data["min_gap_s"]),
            float(data["rally_gap_s"]),
            float(data.get("moving_start_penalty", 0.0)),
        )


@dataclass(frozen=True)
class Candidate(Generic[T]):
    time: float
    proba: float  # that a hit happened here
    p_near: float  # that the near player hit, if it was a hit
    item: T  # what the caller wants back with a chosen hit
    # Metres the near and far player moved in the half second before (NaN: not known).
    moved: tuple[float, float] = (math.nan, math.nan)


@dataclass(frozen=True)
class Chosen(Generic[T]):
    candidate: Candidate[T]
    player: str


@dataclass
class _Pending(Generic[T]):
    """A candidate not committed yet, with what is known of it."""

    candidate: Candidate[T]
    after_serve: bool  # an earlier candidate, up to SERVE_BEFORE_S before it, may be a serve
    landed: bool | None = None  # the shuttle was never seen in flight after it (None: not known)


@dataclass
class HitSequence(Generic[T]):
    """The best hit sequence over candidates fed in time order (see the module docstring)."""

    params: SequenceParams = field(default_factory=SequenceParams)
    _pending: list[_Pending[T]] = field(default_factory=list)
    _anchor: Chosen[T] | None = None  # the last committed hit
    _best: list[tuple[_Pending[T], Chosen[T]]] | None = None  # the best path, cached

    def add(self, candidate: Candidate[T]) -> None:
        if self._pending and candidate.time < self._pending[-1].candidate.time:
            raise ValueError("candidates must arrive in time order")
        # Judged on arrival, while every candidate that far back is still kept (commits drop
        # only those older than LOOKBACK_S before the newest moment).
        earliest = candidate.time - SERVE_BEFORE_S
        latest = candidate.time - self.params.min_gap_s + 1e-6
        after_serve = any(earliest <= e.candidate.time <= latest for e in self._pending)
        self._pending.append(_Pending(candidate, after_serve))
        self._best = None

    def judge_landings(self, landed: Callable[[float], bool | None]) -> None:
        """Asks `landed(time)` about every candidate not yet judged: True when the shuttle
        was never seen in flight after it, None while that is not known."""
        for entry in self._pending:
            if entry.landed is None:
                entry.landed = landed(entry.candidate.time)

    def set_params(self, params: SequenceParams) -> None:
        if params != self.params:
            self.params = params
            self._best = None

    @property
    def last_committed(self) -> Chosen[T] | None:
        return self._anchor

    def path(self) -> list[Chosen[T]]:
        """The best sequence of the uncommitted candidates, following the committed hits."""
        return [chosen for _, chosen in self._best_path()]

    def commit(self, before: float) -> list[Chosen[T]]:
        """Makes the hits of the best sequence earlier than `before` final; returns them.
        Candidates before that time that are not hits are dropped."""
        if not self._pending or self._pending[0].candidate.time >= before:
            return []
        best = self._best_path()
        path = [chosen for _, chosen in best]
        final = [
            chosen
            for k, (entry, chosen) in enumerate(best)
            if chosen.candidate.time < before and not (entry.landed and self._ends_rally(path, k))
        ]
        if final:
            self._anchor = final[-1]
        self._pending = [e for e in self._pending if e.candidate.time >= before]
        self._best = None
        return final

    def _best_path(self) -> list[tuple[_Pending[T], Chosen[T]]]:
        if self._best is None:
            self._best = self._solve()
        return self._best

    def _solve(self) -> list[tuple[_Pending[T], Chosen[T]]]:
        p = self.params
        cands = [e.candidate for e in self._pending]
        n = len(cands)
        if n == 0:
            return []
        times = np.array([c.time for c in cands])
        worth = self._worth(cands)
        opening = self._opening(cands)
        best = np.full((n, 2), -np.inf)
        back = np.full((n, 2, 2), -1, dtype=np.int64)  # (candidate, player) followed
        for i in range(n):
            for a in range(2):
                start = self._after_anchor(times[i], a, opening[i])
                if start is None:
                    continue  # too close to the last committed hit
                value, origin = start, (-1, -1)
                earlier = np.flatnonzero(times[:i] <= times[i] - p.min_gap_s + 1e-6)
                if len(earlier):
                    gap = times[i] - times[earlier]
                    follow = best[earlier].copy()  # (m, 2)
                    within = gap <= p.rally_gap_s
                    follow[within, a] -= p.same_player_penalty
                    follow[~within] += opening[i]
                    k = int(np.argmax(follow.max(axis=1)))
                    c = int(np.argmax(follow[k]))
                    if follow[k, c] > value:
                        value, origin = float(follow[k, c]), (int(earlier[k]), c)
                best[i, a] = worth[i, a] + value
                back[i, a] = origin
        i, a = np.unravel_index(int(np.argmax(best)), best.shape)
        if best[i, a] <= 0.0:
            return []  # taking no further hit is worth more
        path: list[tuple[_Pending[T], Chosen[T]]] = []
        while i >= 0:
            entry = self._pending[i]
            path.append((entry, Chosen(entry.candidate, PLAYERS[a])))
            i, a = back[i, a]
        return path[::-1]

    def _ends_rally(self, path: list[Chosen[T]], k: int) -> bool:
        """Whether the k-th hit of a path is its rally's last."""
        if k + 1 == len(path):
            return True
        gap = path[k + 1].candidate.time - path[k].candidate.time
        return gap > self.params.rally_gap_s

    def _worth(self, cands: list[Candidate[T]]) -> np.ndarray:
        p = self.params
        base = np.array([_logit(c.proba) for c in cands]) - _logit(p.threshold)
        q = np.clip([c.p_near for c in cands], 0.02, 0.98)
        return np.stack(
            [
                base + p.hitter_weight * np.log(2 * q),
                base + p.hitter_weight * np.log(2 * (1 - q)),
            ],
            axis=1,
        )

    def _opening(self, cands: list[Candidate[T]]) -> np.ndarray:
        """(n,): what opening a rally with each candidate is worth: 0 when both players stood
        still (or are not known), less when both were on the move, or either was and an
        earlier candidate may be the serve."""
        moving = np.array([c.moved for c in cands], dtype=np.float64).reshape(-1, 2) > STILL_M
        after_serve = np.array([e.after_serve for e in self._pending], dtype=bool)
        costs = moving.all(axis=1) | (moving.any(axis=1) & after_serve)
        return np.where(costs, -self.params.moving_start_penalty, 0.0)

    def _after_anchor(self, time: float, player: int, opening: float) -> float | None:
        """What following the last committed hit costs (None: not allowed); `opening`: what
        opening a rally with this hit costs."""
        anchor = self._anchor
        if anchor is None:
            return opening
        gap = time - anchor.candidate.time
        if gap < self.params.min_gap_s - 1e-6:
            return None
        if gap > self.params.rally_gap_s:
            return opening
        same = PLAYERS[player] == anchor.player
        return -self.params.same_player_penalty if same else 0.0


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class Sample(Generic[T]):
    """One scored moment of the shuttle track."""

    time: float
    proba: float
    p_near: float
    item: T
    moved: tuple[float, float] = (math.nan, math.nan)  # as `Candidate.moved`
    seen: bool = True  # whether the shuttle was seen at this moment


class HitPicker(Generic[T]):
    """Picks hits from scored moments fed in time order, at any sample rate.

    Moments next to a hit score high too: the probabilities are smoothed over a short time
    (HIT_SMOOTHING_S), and a moment is a candidate when its smoothed probability is the first
    highest within `min_gap_s / 2` each side. The hitter probability is averaged over the
    moments around (HITTER_SMOOTHING_S). Candidates feed a `HitSequence` as soon as the
    moments around them are known; the hits more than `lookback_s` older than the newest
    moment are committed. `pick_hits` does the same over a whole track at once.
    """

    def __init__(self, params: PickerParams | None = None, lookback_s: float = LOOKBACK_S) -> None:
        self.params = params or PickerParams()
        self.lookback_s = lookback_s
        self._samples: list[Sample[T]] = []  # recent moments, time order
        self._checked = 0  # samples before this index were judged as candidates
        self._sequence: HitSequence[T] = HitSequence(self.params.sequence_for(None))
        self._interval = RecentInterval(INTERVAL_HISTORY)

    @property
    def last_committed(self) -> Chosen[T] | None:
        """The latest hit committed so far."""
        return self._sequence.last_committed

    def add(self, sample: Sample[T]) -> None:
        if self._samples:
            last = self._samples[-1].time
            if sample.time < last:
                raise ValueError("moments must arrive in time order")
        self._interval.add(sample.time)
        self._samples.append(sample)

    def update(self, final: bool = False) -> tuple[list[Chosen[T]], list[Chosen[T]]]:
        """(hits committed now, the open hits after them); `final` commits everything."""
        self._sequence.set_params(self.params.sequence_for(self._interval.median))
        self._add_candidates(final)
        newest = self._samples[-1].time if self._samples else -np.inf
        times = np.array([s.time for s in self._samples])
        seen = np.array([s.seen for s in self._samples], dtype=bool)
        self._sequence.judge_landings(partial(landed, times, seen, newest=newest, final=final))
        if final:
            return self._sequence.commit(np.inf), []
        committed = self._sequence.commit(newest - self.lookback_s)
        self._forget(newest)
        return committed, self._sequence.path()

    def _add_candidates(self, final: bool) -> None:
        if self._checked >= len(self._samples):
            return
        # The moments a new candidate's test reads (its neighbours within min_gap_s / 2), and
        # those their smoothed values average: older ones are left out of the arrays.
        half = self.params.min_gap_s / 2
        oldest = self._samples[self._checked].time - half - SMOOTHING_REACH_S
        start = bisect_left(self._samples, oldest, hi=self._checked, key=attrgetter("time"))
        samples = self._samples[start:]
        checked = self._checked - start
        times = np.array([s.time for s in samples])
        ready = (
            len(samples)
            if final
            else int(np.searchsorted(times, times[-1] - self.params.reach_s + EDGE_S, side="right"))
        )
        if ready <= checked:
            return
        proba, p_near = _smoothed(
            times, np.array([s.proba for s in samples]), np.array([s.p_near for s in samples])
        )
        for i in _peaks(times, proba, half, checked, ready):
            s = samples[i]
            self._sequence.add(
                Candidate(s.time, float(proba[i]), float(p_near[i]), s.item, s.moved)
            )
        self._checked = start + ready

    def _forget(self, newest: float) -> None:
        """Drops moments no candidate test needs any more."""
        keep_after = newest - self.lookback_s - 2.0
        drop = 0
        while drop < self._checked and self._samples[drop].time < keep_after:
            drop += 1
        if drop:
            del self._samples[:drop]
            self._checked -= drop


def find_candidates(
    times: np.ndarray,
    proba: np.ndarray,
    p_near: np.ndarray,
    params: PickerParams,
    moved: np.ndarray | None = None,
) -> list[Candidate[int]]:
    """The candidates of a whole track, as `HitPicker` finds them (items: sample indices);
    `moved` (N, 2): as `Sample.moved` per sample."""
    if len(times) == 0:
        return []
    proba, p_near = _smoothed(times, proba, p_near)
    if moved is None:
        moved = np.full((len(times), 2), np.nan)
    return [
        Candidate(float(times[i]), float(proba[i]), float(p_near[i]), i, _pair(moved[i]))
        for i in _peaks(times, proba, params.min_gap_s / 2, 0, len(times))
    ]


def landed(
    times: np.ndarray, seen: np.ndarray, time: float, newest: float, final: bool = False
) -> bool | None:
    """Whether the shuttle was never seen in FLIGHT_AFTER_S after `time`, from the moments
    up to `newest` (`times` ascending, `seen` per moment). None while the window is not over,
    or at the end of the track when no moment falls in it."""
    start, end = time + FLIGHT_AFTER_S[0], time + FLIGHT_AFTER_S[1]
    if not final and newest < end - EDGE_S:
        return None
    lo = int(np.searchsorted(times, start + EDGE_S, side="right"))
    hi = int(np.searchsorted(times, end + EDGE_S, side="right"))
    if lo >= hi:
        return None if final else False
    return not bool(seen[lo:hi].any())


def _pair(values: np.ndarray) -> tuple[float, float]:
    return float(values[0]), float(values[1])


def choose_hits(
    times: np.ndarray,
    candidates: list[Candidate[int]],
    params: PickerParams,
    seen: np.ndarray | None = None,
    lookback_s: float = LOOKBACK_S,
) -> list[tuple[int, str, float]]:
    """The hits among a whole track's candidates, chosen as `HitPicker` chooses them fed
    moment by moment: (sample index, player, smoothed probability). `seen` (N,): whether
    the shuttle was seen at each sample (all of them when not given)."""
    sequence: HitSequence[int] = HitSequence(params.sequence_for(None))
    seen = np.ones(len(times), dtype=bool) if seen is None else np.asarray(seen, dtype=bool)
    chosen: list[Chosen[int]] = []
    pending = list(candidates)
    intervals = _rolling_intervals(times)
    for k in range(len(times)):
        newest = float(times[k])
        sequence.set_params(params.sequence_for(intervals[k]))
        while pending and times[pending[0].item] <= newest - params.reach_s + EDGE_S:
            sequence.add(pending.pop(0))
        sequence.judge_landings(partial(landed, times[: k + 1], seen[: k + 1], newest=newest))
        chosen += sequence.commit(newest - lookback_s)
    for candidate in pending:
        sequence.add(candidate)
    newest = float(times[-1]) if len(times) else -np.inf
    sequence.judge_landings(partial(landed, times, seen, newest=newest, final=True))
    chosen += sequence.commit(np.inf)
    return [(c.candidate.item, c.player, c.candidate.proba) for c in chosen]


def pick_hits(
    times: np.ndarray,
    proba: np.ndarray,
    p_near: np.ndarray,
    params: PickerParams,
    moved: np.ndarray | None = None,
    seen: np.ndarray | None = None,
) -> list[tuple[int, str, float]]:
    """The hits of a whole track: (sample index, player, smoothed probability)."""
    candidates = find_candidates(times, proba, p_near, params, moved)
    return choose_hits(times, candidates, params, seen)


def _rolling_intervals(times: np.ndarray) -> list[float | None]:
    """At each sample, the median of the last INTERVAL_HISTORY intervals (as `HitPicker`)."""
    diffs = np.diff(times)
    out: list[float | None] = [None]
    for k in range(1, len(times)):
        out.append(float(np.median(diffs[max(0, k - INTERVAL_HISTORY) : k])))
    return out


def _smoothed(
    times: np.ndarray, proba: np.ndarray, p_near: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    return (
        smooth_in_time(times, proba, HIT_SMOOTHING_S, triangle=True),
        smooth_in_time(times, p_near, HITTER_SMOOTHING_S, triangle=False),
    )


def _peaks(times: np.ndarray, proba: np.ndarray, half: float, start: int, stop: int) -> list[int]:
    """Indices in [start, stop) whose value is the first highest within `half` each side and
    at least CANDIDATE_FLOOR."""
    out = []
    for i in range(start, stop):
        if proba[i] < CANDIDATE_FLOOR:
            continue
        lo = int(np.searchsorted(times, times[i] - half - EDGE_S))
        hi = int(np.searchsorted(times, times[i] + half + EDGE_S, side="right"))
        if lo + int(np.argmax(proba[lo:hi])) == i:
            out.append(i)
    return out


def smooth_in_time(
    times: np.ndarray, values: np.ndarray, half_width: float, triangle: bool
) -> np.ndarray:
    """Weighted moving average over the samples within `half_width` seconds of each one.

    The weight falls linearly to 0 at `half_width` (`triangle`) or is flat up to it; only
    the samples that exist count, so sparse or irregular samples are averaged less.
    """
    total = np.asarray(values, dtype=np.float64).copy()
    weight = np.ones(len(values))
    # A neighbour exactly at the edge counts however its timestamp was rounded.
    reach = half_width + 1e-6
    for k in range(1, len(values)):
        gap = times[k:] - times[:-k]
        near = gap <= reach
        if not near.any():
            break
        w = np.where(near, 1.0 - gap / half_width if triangle else 1.0, 0.0)
        w = np.maximum(w, 0.0)
        total[k:] += w * values[:-k]
        weight[k:] += w
        total[:-k] += w * values[k:]
        weight[:-k] += w
    return total / weight
