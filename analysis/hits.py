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

from collections import deque
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
    interval = float(np.median(np.diff(times)))
    span = SPARSE_INTERVAL_S - DENSE_INTERVAL_S
    w = np.clip((interval - DENSE_INTERVAL_S) / span, 0.0, 1.0)
    return float(THRESHOLD + w * (SPARSE_THRESHOLD - THRESHOLD))


@dataclass(frozen=True)
class Peak:
    """A moment picked as a hit, with its probabilities smoothed over the moments around."""

    index: int
    proba: float  # that a hit happened here
    p_near: float  # that the near player hit


def find_peaks(
    times: np.ndarray,
    proba: np.ndarray,
    p_near: np.ndarray,
    threshold: float | None = None,
    min_separation: float = MIN_SEPARATION_S,
) -> list[Peak]:
    """Greedy peak picking: the most probable moments, at least `min_separation` apart,
    in time order.

    `threshold` defaults to the one for the sample rate (`threshold_for`).
    """
    if threshold is None:
        threshold = threshold_for(times)
    # Moments next to a hit score high too; smoothing puts the peak at the middle of them.
    proba = smooth_in_time(times, proba, HIT_SMOOTHING_S, triangle=True)
    # Who hit is judged over the few moments around the hit, not one alone.
    p_near = smooth_in_time(times, p_near, HITTER_SMOOTHING_S, triangle=False)
    order = np.argsort(-proba, kind="stable")
    chosen: list[int] = []
    for i in order:
        if proba[i] < threshold:
            break
        if all(abs(times[i] - times[j]) >= min_separation for j in chosen):
            chosen.append(int(i))
    chosen.sort()
    return [Peak(i, float(proba[i]), float(p_near[i])) for i in chosen]


def pick_hits(
    times: np.ndarray,
    proba: np.ndarray,
    p_near: np.ndarray,
    threshold: float | None = None,
    min_separation: float = MIN_SEPARATION_S,
) -> list[tuple[int, str, float]]:
    """The peaks of a whole track with their hitters: (index, player, probability)."""
    sequence = HitterSequence()
    peaks = find_peaks(times, proba, p_near, threshold, min_separation)
    return [(p.index, sequence.assign(times[p.index], p.p_near), p.proba) for p in peaks]


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


@dataclass
class _Sample:
    frame: int
    time: float
    xy: tuple[float, float] | None
    players: dict[str, PlayerObservation | None]
    features: np.ndarray | None = None
    proba: float = 0.0
    p_near: float = 0.5


class HitDetector:
    """Finds hits in the stream of shuttle points and player observations.

    Each moment is scored once, when the track after it is complete; the peaks are picked
    over the kept history on every call, as `pick_hits` picks them over a whole track.
    """

    def __init__(self, court: Court, frame_height: float, threshold: float | None = None) -> None:
        """`threshold`: hit probability a peak needs; by default that of the input rate."""
        self.frame_height = frame_height
        self.net_y = net_row(court)
        self.threshold = threshold
        self._hit_model = load_model("hits")
        self._hitter_model = load_model("hitter")
        self._sequence = HitterSequence()
        self._samples: deque[_Sample] = deque()
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
        samples = list(self._samples)
        if not samples:
            return []
        times = np.array([s.time for s in samples])
        pending = [i for i, s in enumerate(samples) if s.features is None and s.time <= score_until]
        if pending:
            xy = np.array([s.xy if s.xy is not None else (np.nan, np.nan) for s in samples], float)
            feats = np.stack([self._features(times, xy, samples[i].players, i) for i in pending])
            proba = self._hit_model.predict_proba(feats)[:, 1]
            p_near = self._hitter_model.predict_proba(feats)[:, 1]
            for i, f, p, n in zip(pending, feats, proba, p_near):
                samples[i].features, samples[i].proba, samples[i].p_near = f, float(p), float(n)
        scored = [i for i, s in enumerate(samples) if s.features is not None]
        if not scored:
            return []
        peaks = find_peaks(
            times[scored],
            np.array([samples[i].proba for i in scored]),
            np.array([samples[i].p_near for i in scored]),
            self.threshold,
        )
        hits = []
        for peak in peaks:
            s = samples[scored[peak.index]]
            if s.time > decide_until:
                break
            if self._last_hit is not None and s.time < self._last_hit.time + MIN_SEPARATION_S:
                continue
            player = self._sequence.assign(s.time, peak.p_near)
            hit = Hit(s.frame, s.time, player, peak.proba, s.xy, s.players.get(player), s.features)
            self._last_hit = hit
            hits.append(hit)
        while self._samples and self._samples[0].time < self._samples[-1].time - HISTORY_S:
            self._samples.popleft()
        return hits

    def _features(
        self,
        times: np.ndarray,
        xy: np.ndarray,
        players: dict[str, PlayerObservation | None],
        i: int,
    ) -> np.ndarray:
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
