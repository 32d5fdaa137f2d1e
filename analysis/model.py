"""Small gradient-boosted tree models stored as plain JSON, evaluated with numpy.

The models are trained offline (tools/train_*.py) and shipped in analysis/models/; nothing
here needs the training library.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

MODELS_DIR = Path(__file__).with_name("models")


@dataclass(frozen=True)
class Tree:
    feature: np.ndarray  # per node; -1 at leaves
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray  # per node: the leaf's output

    def predict(self, x: np.ndarray) -> np.ndarray:
        node = np.zeros(len(x), dtype=np.int64)
        rows = np.arange(len(x))
        while True:
            feature = self.feature[node]
            inner = feature >= 0
            if not inner.any():
                return self.value[node]
            go_left = x[rows, np.where(inner, feature, 0)] <= self.threshold[node]
            node = np.where(inner, np.where(go_left, self.left[node], self.right[node]), node)


@dataclass(frozen=True)
class BoostedTrees:
    """A gradient-boosted classifier: raw score = init + rate * sum of trees; softmax/sigmoid."""

    features: tuple[str, ...]
    classes: tuple[str, ...]
    init: np.ndarray  # (K,) raw score before any tree; K = 1 for two classes
    rate: float
    trees: tuple[tuple[Tree, ...], ...]  # per stage, K trees

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(N, len(classes)) class probabilities for (N, len(features)) rows (NaN allowed)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        if x.shape[1] != len(self.features):
            raise ValueError(f"expected {len(self.features)} features, got {x.shape[1]}")
        # Trees were trained with missing values replaced by this sentinel.
        x = np.where(np.isnan(x), MISSING, x)
        raw = np.tile(self.init, (len(x), 1))
        for stage in self.trees:
            for k, tree in enumerate(stage):
                raw[:, k] += self.rate * tree.predict(x)
        if raw.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            return np.stack([1.0 - p, p], axis=1)
        raw -= raw.max(axis=1, keepdims=True)
        e = np.exp(raw)
        return e / e.sum(axis=1, keepdims=True)

    def to_json(self) -> dict:
        return {
            "features": list(self.features),
            "classes": list(self.classes),
            "init": self.init.tolist(),
            "rate": self.rate,
            "trees": [
                [
                    {
                        "feature": t.feature.tolist(),
                        "threshold": [round(float(v), 6) for v in t.threshold],
                        "left": t.left.tolist(),
                        "right": t.right.tolist(),
                        "value": [round(float(v), 6) for v in t.value],
                    }
                    for t in stage
                ]
                for stage in self.trees
            ],
        }

    @classmethod
    def from_json(cls, data: dict) -> BoostedTrees:
        trees = tuple(
            tuple(
                Tree(
                    np.asarray(t["feature"], dtype=np.int64),
                    np.asarray(t["threshold"], dtype=np.float64),
                    np.asarray(t["left"], dtype=np.int64),
                    np.asarray(t["right"], dtype=np.int64),
                    np.asarray(t["value"], dtype=np.float64),
                )
                for t in stage
            )
            for stage in data["trees"]
        )
        return cls(
            tuple(data["features"]),
            tuple(data["classes"]),
            np.asarray(data["init"], dtype=np.float64),
            float(data["rate"]),
            trees,
        )


MISSING = -999.0


@cache
def load_model(name: str) -> BoostedTrees:
    """Loads analysis/models/NAME.json (cached; models are immutable)."""
    return BoostedTrees.from_json(json.loads((MODELS_DIR / f"{name}.json").read_text()))
