"""Shot typing: what kind of stroke each hit was.

A shot is typed as soon as its hit is found, from the hit alone (analysis/models/
shots_open.json), and typed again once the next hit or the end of the rally is known
(analysis/models/shots.json), because where the shuttle went is what tells most types apart.
Both are small models trained by tools/train_shots.py that map the features of
`shot_features` to the 9 types (analysis/shots_model.py); the first guess also weighs what
usually follows the type of the shot before it. On top of them holds the rule of the game that
a rally's first hit, struck from a standstill, is a serve and no other hit is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.court import Court
from analysis.hits import Hit, HitDetector
from analysis.shot_features import (
    FEATURE_NAMES,
    POSE_WINDOW_S,
    Flight,
    HitContext,
    landing,
    moved_before,
    shot_features,
)
from analysis.trained import TrainedModels

SERVES = frozenset({"short_serve", "long_serve"})
_SERVE = FEATURE_NAMES.index("serve")


@dataclass(frozen=True)
class ShotType:
    type: str
    confidence: float
    proba: tuple[float, ...] = ()  # every class's probability, in the model's class order


def context_of(hit: Hit, hits: HitDetector) -> HitContext:
    """A hit as the classifier sees it, with the hitter's poses from the detector's recent
    history."""
    obs = hit.hitter
    return HitContext(
        time=hit.time,
        player=hit.player,
        court_xy=obs.court_xy if obs is not None else None,
        poses=tuple(hits.poses_near(hit.player, hit.time, POSE_WINDOW_S)),
        moment=hit.features,
        moved_before=moved_before(*hits.positions(hit.player), hit.time),
    )


class ShotClassifier:
    """Types the hits of one court's `HitDetector`."""

    def __init__(
        self,
        hits: HitDetector,
        court: Court,
        projection: np.ndarray | None,
        models: TrainedModels,
    ) -> None:
        self._hits = hits
        self._court = court
        self._projection = projection
        self._settled = models.shots
        self._first = models.shots_open

    def __call__(
        self,
        hit: Hit,
        next_hit: Hit | None,
        index_in_rally: int,
        rally_over: bool,
        previous: ShotType | None = None,
    ) -> ShotType:
        """The most probable type of a hit, with its probability as the confidence
        (`previous`: the type of the rally's shot before, known from this hit on)."""
        features = self.features(hit, next_hit, index_in_rally, rally_over)
        if next_hit is not None or rally_over:
            model = self._settled
            proba = model.predict_proba(features[None, :])[0]
        else:
            model = self._first
            before = previous.proba if previous is not None and previous.proba else None
            proba = model.after(model.predict_proba(features[None, :])[0], before)
        return serve_rule(proba, model.classes, serve=features[_SERVE] == 1.0)

    def features(
        self, hit: Hit, next_hit: Hit | None, index_in_rally: int, rally_over: bool
    ) -> np.ndarray:
        """The hit's `shot_features`, with the shuttle's flight to the next hit, or after a
        rally's last shot to where it came down."""
        times, xy = self._hits.track_between(
            hit.time, next_hit.time if next_hit is not None else np.inf
        )
        down = None
        if next_hit is None and rally_over:
            down = landing(hit.time, times, xy, self._court)
        return shot_features(
            context_of(hit, self._hits),
            context_of(next_hit, self._hits) if next_hit is not None else None,
            Flight(times, xy, self._projection),
            index_in_rally,
            rally_over,
            came_down=down,
        )


def serve_rule(proba: np.ndarray, classes: tuple[str, ...], serve: bool) -> ShotType:
    """The most probable type among those the hit may be (a serve or not), with its
    probability as the confidence."""
    allowed = np.array([(c in SERVES) == serve for c in classes])
    if not allowed.any():
        allowed[:] = True
    best = int(np.argmax(np.where(allowed, proba, -1.0)))
    return ShotType(classes[best], float(proba[best]), tuple(float(p) for p in proba))
