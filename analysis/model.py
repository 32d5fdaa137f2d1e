"""Small gradient-boosted tree models stored as plain JSON, evaluated with numpy.

The models are trained offline (tools/train_*.py) and shipped in analysis/models/; nothing
here needs the training library.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property
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
class Forest:
    """Many trees in flat arrays, walked together one level per step: a few numpy calls per
    level for every tree and row at once, instead of a few per level of each tree."""

    feature: np.ndarray  # per node; leaves test column 0 and lead back to themselves
    threshold: np.ndarray
    left: np.ndarray  # index into the flat arrays
    right: np.ndarray
    value: np.ndarray
    roots: np.ndarray  # (T,) each tree's root
    depth: int  # of the deepest tree

    @classmethod
    def pack(cls, trees: Sequence[Tree]) -> Forest:
        offsets = np.cumsum([0] + [len(t.feature) for t in trees])
        feature, threshold, left, right, value = [], [], [], [], []
        depth = 0
        for tree, offset in zip(trees, offsets):
            ids = np.arange(len(tree.feature)) + offset
            leaf = tree.feature < 0
            feature.append(np.where(leaf, 0, tree.feature))
            threshold.append(tree.threshold)
            left.append(np.where(leaf, ids, tree.left + offset))
            right.append(np.where(leaf, ids, tree.right + offset))
            value.append(tree.value)
            depth = max(depth, _depth(tree))
        return cls(
            np.concatenate(feature).astype(np.int64),
            np.concatenate(threshold).astype(np.float64),
            np.concatenate(left).astype(np.int64),
            np.concatenate(right).astype(np.int64),
            np.concatenate(value).astype(np.float64),
            offsets[:-1].astype(np.int64),
            depth,
        )

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(N, T): each tree's output for each row; the same numbers as `Tree.predict`."""
        node = np.tile(self.roots, (len(x), 1))
        rows = np.arange(len(x))[:, None]
        for _ in range(self.depth):
            go_left = x[rows, self.feature[node]] <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        return self.value[node]


def _depth(tree: Tree) -> int:
    """Edges on the longest root-to-leaf path."""
    depth, level = 0, [0]
    while True:
        inner = [n for n in level if tree.feature[n] >= 0]
        if not inner:
            return depth
        level = [int(c) for n in inner for c in (tree.left[n], tree.right[n])]
        depth += 1


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
        k = len(self.init)
        steps = self.rate * self._forest.predict(x).reshape(len(x), len(self.trees), k)
        # Added up from init in stage order, one term at a time (cumsum, unlike sum, does not
        # regroup the terms): the same floats as adding tree by tree.
        start = np.broadcast_to(self.init, (len(x), 1, k))
        raw = np.concatenate([start, steps], axis=1).cumsum(axis=1)[:, -1, :]
        if raw.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-raw[:, 0]))
            return np.stack([1.0 - p, p], axis=1)
        raw -= raw.max(axis=1, keepdims=True)
        e = np.exp(raw)
        return e / e.sum(axis=1, keepdims=True)

    @cached_property
    def _forest(self) -> Forest:
        return Forest.pack([tree for stage in self.trees for tree in stage])

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


@cache
def load_model_metadata(name: str) -> dict:
    """Everything in analysis/models/NAME.json but the trees: how the model was made, and
    settings chosen with it."""
    data = json.loads((MODELS_DIR / f"{name}.json").read_text())
    return {k: v for k, v in data.items() if k not in _TREE_KEYS}


_TREE_KEYS = {"features", "classes", "init", "rate", "trees"}
