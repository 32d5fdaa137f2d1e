"""Shot typing: what kind of stroke each hit was.

A shot is typed once the next hit (or the end of the rally) is known, because where the
shuttle went is what tells the types apart. A small boosted-tree model
(analysis/models/shots.json, trained by tools/train_shots.py) maps the features of
`shot_features` to the 9 shot types.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.hits import Hit, HitDetector
from analysis.model import load_model
from analysis.shot_features import FLIGHT_S, POSE_WINDOW_S, HitContext, shot_features


@dataclass(frozen=True)
class ShotType:
    type: str
    confidence: float


def context_of(hit: Hit, hits: HitDetector, flight_end: float) -> HitContext:
    """A hit as the classifier sees it, with the hitter's poses and the shuttle's flight
    taken from the detector's recent history."""
    obs = hit.hitter
    return HitContext(
        time=hit.time,
        player=hit.player,
        court_xy=obs.court_xy if obs is not None else None,
        poses=tuple(hits.poses_near(hit.player, hit.time, POSE_WINDOW_S)),
        moment=hit.features,
        flight=hits.track_between(hit.time, flight_end),
        frame_height=hits.frame_height,
    )


def classify(
    hit: Hit, next_hit: Hit | None, previous: Hit | None, index_in_rally: int, hits: HitDetector
) -> ShotType:
    """The most probable type of a hit, with its probability as the confidence."""
    model = load_model("shots")
    flight_end = next_hit.time if next_hit is not None else hit.time + FLIGHT_S
    features = shot_features(
        context_of(hit, hits, flight_end),
        context_of(next_hit, hits, next_hit.time) if next_hit is not None else None,
        previous.time if previous is not None else None,
        index_in_rally,
    )
    proba = model.predict_proba(features[None, :])[0]
    best = int(np.argmax(proba))
    return ShotType(model.classes[best], float(proba[best]))
