"""Turns a trained scikit-learn gradient-boosting classifier into the JSON model format."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from analysis.model import BoostedTrees, Tree


def export_boosted(model, features: Sequence[str], classes: Sequence[str]) -> BoostedTrees:
    stages = []
    for stage in model.estimators_:
        trees = []
        for regressor in stage:
            t = regressor.tree_
            trees.append(
                Tree(
                    feature=np.where(t.children_left < 0, -1, t.feature).astype(np.int64),
                    threshold=t.threshold.astype(np.float64),
                    left=t.children_left.astype(np.int64),
                    right=t.children_right.astype(np.int64),
                    value=t.value[:, 0, 0].astype(np.float64),
                )
            )
        stages.append(tuple(trees))
    exported = BoostedTrees(
        tuple(features),
        tuple(classes),
        np.zeros(len(stages[0])),
        model.learning_rate,
        tuple(stages),
    )
    # The initial raw score is whatever the trees do not explain; recover it from one row.
    probe = np.zeros((1, len(features)))
    raw = np.atleast_2d(model.decision_function(probe)).reshape(1, -1)
    trees_only = np.array(
        [
            sum(model.learning_rate * s[k].predict(probe)[0] for s in stages)
            for k in range(len(stages[0]))
        ]
    )
    exported = BoostedTrees(
        exported.features, exported.classes, raw[0] - trees_only, exported.rate, exported.trees
    )
    check = np.random.default_rng(0).normal(size=(64, len(features)))
    np.testing.assert_allclose(exported.predict_proba(check), model.predict_proba(check), atol=1e-5)
    return exported
