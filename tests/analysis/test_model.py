"""The shipped boosted-tree models: all trees walked at once give the per-tree results."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.model import MISSING, BoostedTrees, load_model


def _tree_by_tree(model: BoostedTrees, x: np.ndarray) -> np.ndarray:
    """Class probabilities computed one tree at a time, with `Tree.predict`."""
    x = np.where(np.isnan(x), MISSING, x)
    raw = np.tile(model.init, (len(x), 1))
    for stage in model.trees:
        for k, tree in enumerate(stage):
            raw[:, k] += model.rate * tree.predict(x)
    if raw.shape[1] == 1:
        p = 1.0 / (1.0 + np.exp(-raw[:, 0]))
        return np.stack([1.0 - p, p], axis=1)
    e = np.exp(raw - raw.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("name", ["hits", "hitter", "shots"])
@pytest.mark.parametrize("rows", [1, 300])
def test_forest_gives_the_tree_by_tree_probabilities(name: str, rows: int) -> None:
    model = load_model(name)
    rng = np.random.default_rng(rows)
    thresholds = np.concatenate(
        [t.threshold[t.feature >= 0] for stage in model.trees for t in stage]
    )
    x = rng.normal(size=(rows, len(model.features))) * rng.choice([0.1, 1, 10], (rows, 1))
    x[rng.random(x.shape) < 0.2] = np.nan  # missing features
    on_threshold = rng.random(x.shape) < 0.2  # ties go left
    x[on_threshold] = rng.choice(thresholds, on_threshold.sum())
    expected = _tree_by_tree(model, x)
    assert np.array_equal(model.predict_proba(x), expected)
    assert np.allclose(expected.sum(axis=1), 1.0)
