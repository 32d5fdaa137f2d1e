"""The shot-type model: boosted trees averaged with a logistic regression, and, for the first
guess at a shot, the type of the shot before it.

The trees and the linear model err on different strokes (the trees split the few labelled
strokes into ever smaller groups; the linear model draws smooth borders), so their average
types better than either; how much each counts is chosen held out by match when training
(tools/train_shots.py). A shot's first guess sees only its hit, not where the shuttle went,
but rallies follow patterns (a lift is answered from the back court, a smash by a block,
lift or drive), so it is weighed with what usually follows the previous shot's type.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

import numpy as np

from analysis.model import MODELS_DIR, BoostedTrees


@dataclass(frozen=True)
class LinearModel:
    """Multinomial logistic regression on standardised features; a missing feature takes its
    training median and raises its own indicator input."""

    classes: tuple[str, ...]
    fill: np.ndarray  # (F,) value standing in for a missing feature
    mean: np.ndarray  # (F,) standardisation of the filled features
    scale: np.ndarray  # (F,)
    weights: np.ndarray  # (K, 2F): standardised features, then missing indicators
    bias: np.ndarray  # (K,)

    def inputs(self, x: np.ndarray) -> np.ndarray:
        """(N, 2F) model inputs for (N, F) feature rows (NaN allowed)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        missing = np.isnan(x)
        filled = np.where(missing, self.fill, x)
        return np.hstack([(filled - self.mean) / self.scale, missing.astype(np.float64)])

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        raw = self.inputs(x) @ self.weights.T + self.bias
        raw -= raw.max(axis=1, keepdims=True)
        e = np.exp(raw)
        return e / e.sum(axis=1, keepdims=True)

    def to_json(self) -> dict:
        return {
            "classes": list(self.classes),
            **{
                name: np.round(getattr(self, name), 8).tolist()
                for name in ("fill", "mean", "scale", "weights", "bias")
            },
        }

    @classmethod
    def from_json(cls, data: dict) -> LinearModel:
        arrays = {
            name: np.asarray(data[name], dtype=np.float64)
            for name in ("fill", "mean", "scale", "weights", "bias")
        }
        return cls(tuple(data["classes"]), **arrays)


@dataclass(frozen=True)
class ShotModel:
    trees: BoostedTrees
    linear: LinearModel | None = None  # None: the trees alone
    mix: float = 0.0  # the linear model's share of the probabilities
    # For the first guess: P(type | previous shot's type), rows and columns in `classes` order,
    # and the power (0..1) the guess's own probabilities are raised to before weighing them
    # with it (a weak guess counts for less). None: the previous shot is not looked at.
    follows: np.ndarray | None = None
    sharpness: float = 1.0

    def __post_init__(self) -> None:
        if self.linear is not None and self.trees.classes != self.linear.classes:
            raise ValueError("the trees and the linear model type different classes")

    @property
    def classes(self) -> tuple[str, ...]:
        return self.trees.classes

    @property
    def features(self) -> tuple[str, ...]:
        return self.trees.features

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(N, len(classes)) class probabilities of (N, len(features)) rows (NaN allowed)."""
        proba = self.trees.predict_proba(x)
        if self.linear is None:
            return proba
        return (1.0 - self.mix) * proba + self.mix * self.linear.predict_proba(x)

    def after(self, proba: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
        """A shot's probabilities `proba` weighed with the type of the shot before it in the
        rally (`previous`: that shot's probabilities, None for a rally's first shot)."""
        if self.follows is None or previous is None:
            return proba
        weighed = (np.asarray(previous) @ self.follows) * proba**self.sharpness
        total = weighed.sum()
        return weighed / total if total > 0 else proba

    def to_json(self) -> dict:
        data = self.trees.to_json()
        if self.linear is not None:
            data |= {"linear": self.linear.to_json(), "mix": self.mix}
        if self.follows is not None:
            data["follows"] = np.round(self.follows, 8).tolist()
            data["sharpness"] = self.sharpness
        return data

    @classmethod
    def from_json(cls, data: dict) -> ShotModel:
        follows, linear = data.get("follows"), data.get("linear")
        return cls(
            BoostedTrees.from_json(data),
            LinearModel.from_json(linear) if linear is not None else None,
            float(data.get("mix", 0.0)),
            np.asarray(follows, dtype=np.float64) if follows is not None else None,
            float(data.get("sharpness", 1.0)),
        )


@cache
def load_shot_model(name: str) -> ShotModel:
    """Loads analysis/models/NAME.json (cached; models are immutable)."""
    return ShotModel.from_json(json.loads((MODELS_DIR / f"{name}.json").read_text()))
