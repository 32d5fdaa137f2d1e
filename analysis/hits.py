"""Hit detection: the shuttle changes direction where a racket meets it.

Each moment of the shuttle track gets a hit probability from a small boosted-tree model
(analysis/models/hits.json) over the features of `hit_features`: how sharply the track
turns at several time scales, how fast it moves, and how close it is to each player's body
and wrists. The most probable moment in a short window becomes a hit, credited to the player
that the hitter model (analysis/models/hitter.json) and the turn order point to. Decisions
wait until the window after a moment is complete, so hits come out with a delay of
DECISION_DELAY_S.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right, insort
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from analysis.court import COURT_WIDTH, NET_Y, Court
from analysis.hit_features import SCALES_S, PlayerShape, moment_features
from analysis.model import load_model
from analysis.players import PlayerObservation
from analysis.pose import Pose
from analysis.shuttle import ShuttlePoint

LOOKAHEAD_S = max(SCALES_S)  # track needed after a moment before it can be scored
MIN_SEPARATION_S = 0.3  # two hits (one per player) are never closer than this
DECISION_DELAY_S = LOOKAHEAD_S + MIN_SEPARATION_S  # how far hits lag the shuttle track
HISTORY_S = 3.0
# Peaks need this hit probability at 30 samples a second, SPARSE_THRESHOLD at 10 or fewer
# (in between, in proportion to the sample interval): sparser samples carry less evidence
# of the turn each, so the model is less sure at a true hit.
THRESHOLD = 0.3
SPARSE_THRESHOLD = 0.2
DENSE_INTERVAL_S, SPARSE_INTERVAL_S = 1 / 30, 1 / 10
RALLY_GAP_S = 3.0  # no hit for this long: a new rally, turn order starts afresh
ALTERNATE = 0.85  # chance that the next hit detected is by the other player
# Smoothing windows are in seconds, not samples: the analyzer gets 5 to 30 frames a second.
HIT_SMOOTHING_S = 2 / 30  # triangle half-width: weights 1/4, 1/2, 1/4 at 30 fps
HITTER_SMOOTHING_S = 2.5 / 30  # box half-width: five equal weights at 30 fps


@dataclass(frozen=True)
class Hit:
    frame: int
    time: float
    player: str  # "near" | "far"
    score: float
    shuttle_xy: tuple[float, float] | None
    hitter: PlayerObservation | None = None  # the hitter as last seen at the hit
    features: np.ndarray | None = None  # the moment features (analysis.hit_features)


def net_row(court: Court) -> float:
    """Image row of the net's foot at the middle of the court."""
    return float(court.court_to_image([COURT_WIDTH / 2, NET_Y])[1])


class HitterSequence:
    """Who hit: the hitter model's evidence for each hit, combined with the rule that players
    take turns (a forward filter over the rally; a missed hit can break the turn order)."""

    def __init__(self) -> None:
        self._belief_near: float | None = None  # after the previous hit of this rally
        self._last_time = -np.inf

    def assign(self, time: float, p_near: float) -> str:
        p_near = float(np.clip(p_near, 0.02, 0.98))
        if self._belief_near is None or time - self._last_time > RALLY_GAP_S:
            prior = 0.5
        else:
            # The previous hitter's opponent is next, unless a hit in between was missed.
            prior = ALTERNATE * (1 - self._belief_near) + (1 - ALTERNATE) * self._belief_near
        near = prior * p_near
        far = (1 - prior) * (1 - p_near)
        self._belief_near = near / (near + far)
        self._last_time = time
        return "near" if self._belief_near >= 0.5 else "far"


def threshold_for(times: np.ndarray) -> float:
    """The peak threshold for samples at the typical interval of `times`."""
    if len(times) < 2:
        return THRESHOLD
    return _threshold_at_interval(float(np.median(np.diff(times))))


def _threshold_at_interval(interval: float) -> float:
    """The peak threshold for samples `interval` seconds apart."""
    span = SPARSE_INTERVAL_S - DENSE_INTERVAL_S
    w = min(max((interval - DENSE_INTERVAL_S) / span, 0.0), 1.0)
    return THRESHOLD + w * (SPARSE_THRESHOLD - THRESHOLD)


def pick_hits(
    times: np.ndarray,
    proba: np.ndarray,
    p_near: np.ndarray,
    threshold: float | None = None,
    min_separation: float = MIN_SEPARATION_S,
) -> list[tuple[int, str, float]]:
    """Greedy peak picking: the most probable moments, at least `min_separation` apart.

    `threshold` defaults to the one for the sample rate (`threshold_for`). Returns
    (index, player, probability) in time order.
    """
    if threshold is None:
        threshold = threshold_for(times)
    # Moments next to a hit score high too; smoothing puts the peak at the middle of them.
    proba = smooth_in_time(times, proba, HIT_SMOOTHING_S, triangle=True)
    # Who hit is judged over the few moments around the hit, not one alone.
    p_near = smooth_in_time(times, p_near, HITTER_SMOOTHING_S, triangle=False)
    order = np.argsort(-proba, kind="stable")
    ranked = itertools.takewhile(lambda i: not proba[i] < threshold, order)
    chosen = _separated_peaks(times, ranked, min_separation)
    sequence = HitterSequence()
    return [(i, sequence.assign(times[i], p_near[i]), float(proba[i])) for i in chosen]


def _separated_peaks(
    times: Sequence[float], ranked: Iterable[int], min_separation: float
) -> list[int]:
    """Greedy: each candidate in rank order is taken unless it is within `min_separation`
    of one already taken. Returns the indices taken, in index order."""
    chosen: list[int] = []
    for i in ranked:
        t = times[i]
        for j in chosen:
            if not abs(t - times[j]) >= min_separation:
                break
        else:
            chosen.append(int(i))
    chosen.sort()
    return chosen


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
        if not (gap <= reach).any():
            break
        w = np.where(gap <= reach, 1.0 - gap / half_width if triangle else 1.0, 0.0)
        w = np.maximum(w, 0.0)
        total[k:] += w * values[:-k]
        weight[k:] += w
        total[:-k] += w * values[k:]
        weight[:-k] += w
    return total / weight


def _smoothed_at(
    times: Sequence[float], values: Sequence[float], i: int, half_width: float, triangle: bool
) -> float:
    """`smooth_in_time(times, values, half_width, triangle)[i]` for ascending `times`,
    from the samples around i alone: the same terms, added in the same order, so the same
    float (the terms it adds for samples out of reach are zeros)."""
    reach = half_width + 1e-6
    total, weight = float(values[i]), 1.0
    n = len(values)
    for k in range(1, n):
        near = False
        if i >= k:
            gap = times[i] - times[i - k]
            if gap <= reach:
                near = True
                w = _smoothing_weight(gap, half_width, triangle)
                total += w * values[i - k]
                weight += w
        if i + k < n:
            gap = times[i + k] - times[i]
            if gap <= reach:
                near = True
                w = _smoothing_weight(gap, half_width, triangle)
                total += w * values[i + k]
                weight += w
        if not near:  # times ascend: farther samples are out of reach too
            break
    return total / weight


def _smoothing_weight(gap: float, half_width: float, triangle: bool) -> float:
    return max(1.0 - gap / half_width if triangle else 1.0, 0.0)


# Samples this close to a changed one may have a different smoothed hit probability.
SMOOTHING_REACH_S = HIT_SMOOTHING_S + 1e-3


@dataclass
class _Sample:
    frame: int
    time: float
    xy: tuple[float, float] | None
    players: dict[str, PlayerObservation | None]
    features: np.ndarray | None = None
    proba: float = 0.0
    p_near: float = 0.5


class _Track:
    """Times and shuttle pixels of the kept samples as numpy arrays, grown in place (not
    rebuilt for every frame)."""

    def __init__(self, capacity: int = 256) -> None:
        self._times = np.empty(capacity)
        self._xy = np.empty((capacity, 2))
        self._start = self._end = 0

    @property
    def times(self) -> np.ndarray:
        return self._times[self._start : self._end]

    @property
    def xy(self) -> np.ndarray:
        """(N, 2) pixels, NaN where the shuttle was not seen."""
        return self._xy[self._start : self._end]

    def append(self, time: float, xy: tuple[float, float] | None) -> None:
        if self._end == len(self._times):
            self._make_room()
        self._times[self._end] = time
        self._xy[self._end] = xy if xy is not None else (np.nan, np.nan)
        self._end += 1

    def drop_first(self, count: int) -> None:
        self._start += count

    def _make_room(self) -> None:
        kept = self._end - self._start
        capacity = len(self._times)
        if kept > capacity // 2:
            capacity *= 2
        times, xy = np.empty(capacity), np.empty((capacity, 2))
        times[:kept], xy[:kept] = self.times, self.xy
        self._times, self._xy = times, xy
        self._start, self._end = 0, kept


class HitDetector:
    """Finds hits in the stream of shuttle points and player observations.

    Shuttle points and player observations come in time order. Each moment is scored once,
    when the track after it is complete, and its smoothed hit probability is recomputed
    only when samples within the smoothing's reach come or go; the peaks are picked again
    over the whole kept history on every call, as `pick_hits` would.
    """

    def __init__(self, court: Court, frame_height: float, threshold: float | None = None) -> None:
        """`threshold`: hit probability a peak needs; by default that of the input rate."""
        self.frame_height = frame_height
        self.net_y = net_row(court)
        self.threshold = threshold
        self._hit_model = load_model("hits")
        self._hitter_model = load_model("hitter")
        self._sequence = HitterSequence()
        self._samples: list[_Sample] = []
        self._times: list[float] = []  # of the samples
        self._track = _Track()
        # Of the scored samples, the first ones (times ascend, so scoring goes in order):
        self._proba: list[float] = []
        self._smoothed: list[float] = []  # smoothed over the scored samples
        self._gaps: list[float] = []  # between consecutive scored samples, ascending
        self._players: dict[str, deque[PlayerObservation]] = {"near": deque(), "far": deque()}
        self._shapes: dict[str, tuple[PlayerObservation, PlayerShape]] = {}
        self._last_hit: Hit | None = None

    def observe_players(self, observations: dict[str, PlayerObservation | None]) -> None:
        """Player observations of one frame (the shuttle track may lag behind them)."""
        for side, obs in observations.items():
            if obs is None:
                continue
            history = self._players[side]
            history.append(obs)
            while history and history[0].time < obs.time - HISTORY_S:
                history.popleft()

    def add(self, points: list[ShuttlePoint]) -> list[Hit]:
        """Adds final shuttle points; returns the hits now decided."""
        for p in points:
            players = {side: self._player_at(side, p.time) for side in self._players}
            self._samples.append(_Sample(p.frame, p.time, p.xy, players))
            self._times.append(float(p.time))
            self._track.append(p.time, p.xy)
        if not self._samples:
            return []
        latest = self._samples[-1].time
        return self._decide(
            score_until=latest - LOOKAHEAD_S, decide_until=latest - DECISION_DELAY_S
        )

    def flush(self) -> list[Hit]:
        """Decides every remaining moment (end of the video or stream)."""
        return self._decide(score_until=np.inf, decide_until=np.inf)

    def _decide(self, score_until: float, decide_until: float) -> list[Hit]:
        if not self._samples:
            return []
        first = end = len(self._proba)
        while end < len(self._samples) and self._samples[end].time <= score_until:
            end += 1
        if end > first:
            self._score(first, end)
        if not self._proba:
            return []
        hits = []
        for i in self._peaks():
            s = self._samples[i]
            if s.time > decide_until:
                break
            if self._last_hit is not None and s.time < self._last_hit.time + MIN_SEPARATION_S:
                continue
            player = self._sequence.assign(s.time, s.p_near)
            hit = Hit(
                s.frame, s.time, player, self._smoothed[i], s.xy, s.players.get(player), s.features
            )
            self._last_hit = hit
            hits.append(hit)
        self._forget_old()
        return hits

    def _score(self, first: int, end: int) -> None:
        """Scores samples first..end-1, the next ones after those scored."""
        times, xy = self._track.times, self._track.xy
        feats = np.stack([self._features(times, xy, i) for i in range(first, end)])
        proba = self._hit_model.predict_proba(feats)[:, 1]
        p_near = self._hitter_model.predict_proba(feats)[:, 1]
        for s, f, p, n in zip(self._samples[first:end], feats, proba, p_near):
            s.features, s.proba, s.p_near = f, float(p), float(n)
            self._proba.append(s.proba)
            self._smoothed.append(s.proba)  # smoothed below
        for i in range(max(first, 1), end):
            insort(self._gaps, self._times[i] - self._times[i - 1])
        # The new samples, and the earlier ones whose smoothing reaches them.
        start = first
        while start > 0 and self._times[first] - self._times[start - 1] <= SMOOTHING_REACH_S:
            start -= 1
        self._smooth(range(start, end))

    def _smooth(self, indices: Iterable[int]) -> None:
        for i in indices:
            self._smoothed[i] = _smoothed_at(
                self._times, self._proba, i, HIT_SMOOTHING_S, triangle=True
            )

    def _peaks(self) -> list[int]:
        """What `pick_hits` picks over the scored samples (as indices of samples)."""
        threshold = self.threshold if self.threshold is not None else self._threshold()
        smoothed = self._smoothed
        ranked = sorted(
            (i for i, p in enumerate(smoothed) if not p < threshold), key=lambda i: -smoothed[i]
        )
        return _separated_peaks(self._times, ranked, MIN_SEPARATION_S)

    def _threshold(self) -> float:
        """`threshold_for` the scored samples' times, from their sorted gaps."""
        gaps = self._gaps
        if not gaps:
            return THRESHOLD
        mid = len(gaps) // 2
        median = gaps[mid] if len(gaps) % 2 else (gaps[mid - 1] + gaps[mid]) / 2
        return _threshold_at_interval(median)

    def _forget_old(self) -> None:
        """Drops the samples more than HISTORY_S older than the latest."""
        latest = self._samples[-1].time
        count = 0
        while self._samples[count].time < latest - HISTORY_S:
            count += 1
        if not count:
            return
        scored = len(self._proba)
        for i in range(min(count, scored - 1)):
            gap = self._times[i + 1] - self._times[i]
            del self._gaps[bisect_left(self._gaps, gap)]
        del self._samples[:count], self._times[:count]
        self._track.drop_first(count)
        del self._proba[:count], self._smoothed[:count]
        # The first samples lost the neighbours their smoothing reached.
        reached = bisect_right(self._times, self._times[0] + SMOOTHING_REACH_S, hi=len(self._proba))
        self._smooth(range(reached))

    def _features(self, times: np.ndarray, xy: np.ndarray, i: int) -> np.ndarray:
        players = self._samples[i].players
        shapes = {side: self._shape(side, obs) for side, obs in players.items()}
        return moment_features(times, xy, i, self.frame_height, shapes, self.net_y)

    def _shape(self, side: str, obs: PlayerObservation | None) -> PlayerShape | None:
        """The player's shape, computed once per observation (consecutive shuttle samples
        share the latest one)."""
        if obs is None or not obs.pose:
            return None
        cached = self._shapes.get(side)
        if cached is None or cached[0] is not obs:
            cached = self._shapes[side] = (obs, PlayerShape.from_pose(obs.pose))
        return cached[1]

    def track_between(self, start: float, end: float) -> np.ndarray:
        """(N, 2) shuttle pixels seen from `start` to `end` (within the kept history)."""
        pts = [s.xy for s in self._samples if start <= s.time <= end and s.xy is not None]
        return np.array(pts, dtype=np.float64).reshape(-1, 2)

    def poses_near(self, side: str, time: float, window: float) -> list[Pose]:
        """A player's poses within `window` seconds of `time` (within the kept history)."""
        return [
            obs.pose
            for obs in self._players[side]
            if obs.pose is not None and abs(obs.time - time) <= window
        ]

    def _player_at(self, side: str, time: float) -> PlayerObservation | None:
        """The player's latest observation at or before `time` (within a quarter second)."""
        for obs in reversed(self._players[side]):
            if obs.time <= time + 1e-6:
                return None if time - obs.time > 0.25 else obs
        return None
