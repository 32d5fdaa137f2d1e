"""Hit detection: the shuttle changes direction where a racket meets it.

Each moment of the shuttle track gets a hit probability from a small boosted-tree model
(analysis/models/hits.json) over the features of `hit_features`: how sharply the track
turns at several time scales, how fast it moves, and how close it is to each player's body
and wrists; and a probability that the near player hit from the hitter model
(analysis/models/hitter.json). The hit sequence is chosen as a whole from the moments where
the hit probability peaks, with the players taking turns (`analysis.hit_sequence`). Moments
are scored once the track LOOKAHEAD_S after them is known; the latest hits stay open to
revision for `hit_sequence.LOOKBACK_S`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from operator import attrgetter, itemgetter
from typing import TypeVar

import numpy as np

from analysis.court import COURT_WIDTH, NET_Y, Court
from analysis.hit_features import (
    FEATURE_LOOKBACK_S,
    SCALES_S,
    PlayerShape,
    SwingPoint,
    moment_features,
    swing_point,
    swing_window,
    wrist_travel,
)
from analysis.hit_sequence import PLAYERS, Chosen, HitPicker, PickerParams, Sample
from analysis.players import PlayerObservation
from analysis.pose import Pose
from analysis.rallies import MAX_GAP_S
from analysis.shot_features import STILL_FROM_S, STILL_SPAN_S, moved_before
from analysis.shuttle import ShuttlePoint
from analysis.trained import TrainedModels

LOOKAHEAD_S = max(SCALES_S)  # track needed after a moment before it can be scored
HISTORY_S = 8.0  # track and poses kept: the look-back, and a shot's flight after it
POSE_REACH_S = 0.25  # a pose this far from a moment still shows the player at it
H = TypeVar("H")  # an entry of a time-ordered history
T = TypeVar("T")  # what a picked candidate carries
# How far hit decisions lag the shuttle track: the track after a moment, then the moments
# around a candidate.
DECISION_DELAY_S = LOOKAHEAD_S + PickerParams().reach_s
MOVED_LOOKBACK_S = STILL_FROM_S + STILL_SPAN_S  # how far back moved_before looks


@dataclass(frozen=True)
class Hit:
    frame: int
    time: float
    player: str  # "near" | "far"
    score: float
    shuttle_xy: tuple[float, float] | None
    hitter: PlayerObservation | None = None  # the hitter as last seen at the hit
    features: np.ndarray | None = None  # the moment features (analysis.hit_features)
    hitter_next: PlayerObservation | None = None  # the hitter's next observation after it


def net_row(court: Court) -> float:
    """Image row of the net's foot at the middle of the court."""
    return float(court.court_to_image([COURT_WIDTH / 2, NET_Y])[1])


@dataclass(frozen=True)
class HitUpdate:
    """What the hits are after some more track: the hits that became final, and the open ones
    after them (which later track may still drop, add to or give to the other player)."""

    committed: list[Hit]
    open: list[Hit]


@dataclass
class _Sample:
    frame: int
    time: float
    xy: tuple[float, float] | None
    players: dict[str, PlayerObservation | None]
    features: np.ndarray | None = None


class HeldOpenHits:
    """Open hits worth telling: those the picker still keeps after more track came, and a
    rally's first hit only once a second one stands.

    A hit the picker has only just taken is often gone at its next look, when a moment after
    it turns out the better one. Told at once, it would be announced and withdrawn within a
    frame: at 5 frames a second that was most of the shots withdrawn. A rally's first hit
    has no earlier hit to take turns with: moments just before a serve can win it, and lose
    it when the serve comes. It waits for a second hit of its rally, which fixes who served
    (a rally of one hit, a fault, is told when it is committed). Once told, a hit is told
    while the picker keeps it. Committed hits do not pass through here; they are told
    whatever came before.
    """

    def __init__(self, rally_gap_s: float = MAX_GAP_S) -> None:
        self.rally_gap_s = rally_gap_s
        self._since: dict[float, float] = {}  # open hit's time -> newest moment when taken
        self._told: set[float] = set()  # times of the open hits told
        self.waiting: float | None = None  # the time of the earliest hit held back

    def filter(
        self, open_: list[Chosen[T]], newest: float, before: float | None = None
    ) -> list[Chosen[T]]:
        """The open hits, of those the picker chose with the track up to `newest`, that it
        had chosen already before the latest moments; `before`: the time of the latest
        committed hit (None: none yet)."""
        since = {c.candidate.time: self._since.get(c.candidate.time, newest) for c in open_}
        self._since = since
        told, held = [], []
        previous = before
        for k, c in enumerate(open_):
            t = c.candidate.time
            following = open_[k + 1].candidate.time if k + 1 < len(open_) else None
            opens = previous is None or t - previous > self.rally_gap_s
            answered = following is not None and following - t <= self.rally_gap_s
            waits = since[t] >= newest or (opens and not answered)
            (held if waits and t not in self._told else told).append(c)
            previous = t
        self._told = {c.candidate.time for c in told}
        self.waiting = min((c.candidate.time for c in held), default=None)
        return told


class HitDetector:
    """Finds hits in the stream of shuttle points and player observations.

    Each moment is scored once, when the track after it is complete, and handed to the
    `HitPicker`, which chooses the hit sequence (as `pick_hits` does over a whole track).
    """

    def __init__(
        self, court: Court, frame_height: float, models: TrainedModels | None = None
    ) -> None:
        """`models`: the shipped ones by default."""
        models = models or TrainedModels.shipped()
        self.frame_height = frame_height
        self.net_y = net_row(court)
        self._hit_model = models.hits
        self._hitter_model = models.hitter
        self._picker: HitPicker[_Sample] = HitPicker(models.picker)
        self._samples: deque[_Sample] = deque()
        self._scored = 0  # samples before this index are scored
        self._players: dict[str, deque[PlayerObservation]] = {"near": deque(), "far": deque()}
        self._shapes: dict[str, tuple[PlayerObservation, PlayerShape]] = {}
        # The swing points of each player's kept poses, with their times.
        self._swings: dict[str, deque[tuple[float, SwingPoint]]] = {"near": deque(), "far": deque()}
        self._held = HeldOpenHits(models.picker.rally_gap_s)

    def decided_until(self, newest: float) -> float:
        """The time up to which the hits told so far are all there are, with the track up to
        `newest`: the decision delay behind it, and short of any hit held back."""
        decided = newest - DECISION_DELAY_S
        waiting = self._held.waiting
        return decided if waiting is None else min(decided, waiting)

    def observe_players(self, observations: dict[str, PlayerObservation | None]) -> None:
        """Player observations of one frame (the shuttle track may lag behind them)."""
        for side, obs in observations.items():
            if obs is None:
                continue
            history = self._players[side]
            history.append(obs)
            while history and history[0].time < obs.time - HISTORY_S:
                history.popleft()
            swings = self._swings[side]
            if obs.pose is not None:
                swings.append((obs.time, swing_point(obs.pose)))
            while swings and swings[0][0] < obs.time - HISTORY_S:
                swings.popleft()

    def add(self, points: list[ShuttlePoint]) -> HitUpdate:
        """Adds final shuttle points; returns the hits as they now stand."""
        for p in points:
            players = {side: self._player_at(side, p.time) for side in self._players}
            self._samples.append(_Sample(p.frame, p.time, p.xy, players))
        if not self._samples:
            return HitUpdate([], [])
        self._score(until=self._samples[-1].time - LOOKAHEAD_S)
        return self._update(final=False)

    def flush(self) -> HitUpdate:
        """Decides every remaining moment (end of the video or stream)."""
        self._score(until=np.inf)
        return self._update(final=True)

    def _score(self, until: float) -> None:
        samples = self._samples
        pending = [i for i in range(self._scored, len(samples)) if samples[i].time <= until]
        if not pending:
            return
        # Only the samples the pending moments' features can read become arrays.
        oldest = samples[pending[0]].time - FEATURE_LOOKBACK_S
        window = _between(samples, attrgetter("time"), oldest, np.inf)
        start = len(samples) - len(window)
        times = np.array([s.time for s in window])
        xy = np.array([s.xy if s.xy is not None else (np.nan, np.nan) for s in window], float)
        feats = np.stack(
            [self._features(times, xy, samples[i].players, i - start) for i in pending]
        )
        proba = self._hit_model.predict_proba(feats)[:, 1]
        p_near = self._hitter_model.predict_proba(feats)[:, 1]
        since = samples[pending[0]].time - MOVED_LOOKBACK_S
        positions = {side: self.positions(side, since) for side in PLAYERS}
        for i, f, p, q in zip(pending, feats, proba, p_near):
            samples[i].features = f
            t = samples[i].time
            moved = tuple(moved_before(*positions[side], t) for side in PLAYERS)
            seen = samples[i].xy is not None
            self._picker.add(Sample(t, float(p), float(q), samples[i], moved, seen))
        self._scored = pending[-1] + 1

    def _update(self, final: bool) -> HitUpdate:
        committed, open_ = self._picker.update(final)
        newest = self._samples[-1].time if self._samples else 0.0
        last = self._picker.last_committed
        open_ = self._held.filter(open_, newest, last.candidate.time if last else None)
        while self._samples and self._samples[0].time < newest - HISTORY_S:
            self._samples.popleft()
            self._scored = max(0, self._scored - 1)
        return HitUpdate([self._hit(c) for c in committed], [self._hit(c) for c in open_])

    def _hit(self, chosen: Chosen[_Sample]) -> Hit:
        s = chosen.candidate.item
        return Hit(
            s.frame,
            s.time,
            chosen.player,
            chosen.candidate.proba,
            s.xy,
            s.players.get(chosen.player),
            s.features,
            self.player_after(chosen.player, s.time),
        )

    def _features(
        self,
        times: np.ndarray,
        xy: np.ndarray,
        players: dict[str, PlayerObservation | None],
        i: int,
    ) -> np.ndarray:
        time = float(times[i])
        shapes = {side: self._shape(side, obs, time) for side, obs in players.items()}
        return moment_features(times, xy, i, self.frame_height, shapes, self.net_y)

    def _shape(self, side: str, obs: PlayerObservation | None, time: float) -> PlayerShape | None:
        """The player's shape at `time`: from their latest pose (computed once per
        observation: consecutive shuttle samples share it), and how their wrists swung in
        the poses around."""
        if obs is None or not obs.pose:
            return None
        cached = self._shapes.get(side)
        if cached is None or cached[0] is not obs:
            cached = self._shapes[side] = (obs, PlayerShape.from_pose(obs.pose))
        return replace(cached[1], swing=wrist_travel(self.swing_points(side, time)))

    def swing_points(self, side: str, time: float) -> list[SwingPoint]:
        """The swing points of the player's poses in the swing window of `time`."""
        swings = _between(self._swings[side], itemgetter(0), *swing_window(time))
        return [point for _, point in swings]

    def track_between(self, start: float, end: float) -> tuple[np.ndarray, np.ndarray]:
        """Times (N,) and pixels (N, 2) of the shuttle seen from `start` to `end` (within the
        kept history)."""
        seen = [s for s in self._samples if start <= s.time <= end and s.xy is not None]
        times = np.array([s.time for s in seen], dtype=np.float64)
        return times, np.array([s.xy for s in seen], dtype=np.float64).reshape(-1, 2)

    def poses_near(self, side: str, time: float, window: float) -> list[Pose]:
        """A player's poses within `window` seconds of `time` (within the kept history)."""
        seen = _between(self._players[side], attrgetter("time"), time - window, time + window)
        return [obs.pose for obs in seen if obs.pose is not None]

    def positions(self, side: str, since: float = -np.inf) -> tuple[np.ndarray, np.ndarray]:
        """Times (N,) and court metres (N, 2) of a player's kept observations from `since` on."""
        history = _between(self._players[side], attrgetter("time"), since, np.inf)
        times = np.array([obs.time for obs in history], dtype=np.float64)
        return times, np.array([obs.court_xy for obs in history], dtype=np.float64).reshape(-1, 2)

    def player_after(self, side: str, time: float) -> PlayerObservation | None:
        """The player's first observation after `time` (within POSE_REACH_S), if seen yet."""
        later = _between(self._players[side], attrgetter("time"), time + 1e-6, time + POSE_REACH_S)
        return later[0] if later else None

    def _player_at(self, side: str, time: float) -> PlayerObservation | None:
        """The player's latest observation at or before `time` (within POSE_REACH_S)."""
        for obs in reversed(self._players[side]):
            if obs.time <= time + 1e-6:
                return None if time - obs.time > POSE_REACH_S else obs
        return None


def _between(history: deque[H], time_of: Callable[[H], float], start: float, end: float) -> list[H]:
    """The entries of a time-ordered history from `start` to `end`, oldest first. Walked from
    the newest end and stopped past `start`: the moments asked about are recent."""
    found = []
    for entry in reversed(history):
        t = time_of(entry)
        if t < start:
            break
        if t <= end:
            found.append(entry)
    return found[::-1]
