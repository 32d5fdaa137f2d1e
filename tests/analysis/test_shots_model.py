"""The shot-type model: trees averaged with a linear model, and the first guess weighed with
the type of the shot before it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.model import BoostedTrees, Tree
from analysis.shots_model import LinearModel, ShotModel

CLASSES = ("lift", "net_shot", "smash")


def constant_trees(proba: list[float]) -> BoostedTrees:
    """Trees that give every row the class probabilities `proba` (one leaf per class)."""
    leaf = [
        Tree(np.array([-1]), np.array([0.0]), np.array([-1]), np.array([-1]), np.array([0.0]))
        for _ in CLASSES
    ]
    return BoostedTrees(("depth", "height"), CLASSES, np.log(np.array(proba)), 1.0, (tuple(leaf),))


def depth_linear() -> LinearModel:
    """Deep hitters lift, shallow ones play net shots; an unknown depth counts as 3 m and
    makes a smash likelier."""
    weights = np.array(
        [[2.0, 0.0, 0.0, 0.0], [-2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 4.0, 0.0]]
    )  # depth, height standardised; then their missing indicators
    return LinearModel(
        CLASSES,
        fill=np.array([3.0, 1.0]),
        mean=np.array([3.0, 1.0]),
        scale=np.array([1.0, 1.0]),
        weights=weights,
        bias=np.zeros(3),
    )


def test_the_linear_model_fills_a_missing_feature_and_flags_it():
    linear = depth_linear()
    deep, shallow, unknown = linear.predict_proba(np.array([[5.0, 1.0], [1.0, 1.0], [np.nan, 1.0]]))
    assert CLASSES[int(np.argmax(deep))] == "lift"
    assert CLASSES[int(np.argmax(shallow))] == "net_shot"
    assert CLASSES[int(np.argmax(unknown))] == "smash"
    assert np.allclose([deep.sum(), shallow.sum(), unknown.sum()], 1.0)


def test_the_probabilities_mix_the_trees_and_the_linear_model():
    trees = constant_trees([0.2, 0.7, 0.1])
    x = np.array([[5.0, 1.0]])
    linear = depth_linear().predict_proba(x)[0]
    for mix in (0.0, 0.3, 1.0):
        got = ShotModel(trees, depth_linear(), mix).predict_proba(x)[0]
        assert got == pytest.approx((1 - mix) * np.array([0.2, 0.7, 0.1]) + mix * linear)
    # Trees alone for a model file without a linear model.
    assert ShotModel(trees).predict_proba(x)[0] == pytest.approx([0.2, 0.7, 0.1])


def test_the_first_guess_weighs_what_usually_follows_the_previous_type():
    follows = np.array(
        [  # rows: previous type; columns: this one (lift, net_shot, smash)
            [0.1, 0.1, 0.8],  # a lift is smashed
            [0.4, 0.5, 0.1],  # a net shot is answered at the net or lifted
            [0.7, 0.2, 0.1],  # a smash is lifted back
        ]
    )
    model = ShotModel(constant_trees([1 / 3] * 3), follows=follows, sharpness=0.5)
    guess = np.array([0.4, 0.45, 0.15])  # the hit alone: a net shot, barely
    assert model.after(guess, None) is guess  # a rally's first shot
    after_smash = model.after(guess, np.array([0.05, 0.05, 0.9]))
    after_net = model.after(guess, np.array([0.1, 0.8, 0.1]))
    assert CLASSES[int(np.argmax(after_smash))] == "lift"
    assert CLASSES[int(np.argmax(after_net))] == "net_shot"
    assert after_smash.sum() == pytest.approx(1.0)
    # Without the rally's pattern the previous shot changes nothing.
    assert ShotModel(constant_trees([1 / 3] * 3)).after(guess, np.array([0, 0, 1.0])) is guess


def test_a_model_survives_its_file():
    follows = np.full((3, 3), 1 / 3)
    model = ShotModel(constant_trees([0.2, 0.7, 0.1]), depth_linear(), 0.25, follows, 0.5)
    loaded = ShotModel.from_json(json.loads(json.dumps(model.to_json())))
    x = np.array([[5.0, np.nan], [np.nan, 2.0]])
    assert loaded.predict_proba(x) == pytest.approx(model.predict_proba(x))
    assert (loaded.mix, loaded.sharpness) == (0.25, 0.5)
    assert loaded.follows == pytest.approx(follows)
    # A file of trees only (as made before the linear model) loads as the trees alone.
    trees_only = ShotModel.from_json(json.loads(json.dumps(model.trees.to_json())))
    assert trees_only.linear is None and trees_only.follows is None
    assert trees_only.predict_proba(x) == pytest.approx(model.trees.predict_proba(x))


def test_the_trees_and_the_linear_model_must_type_the_same_classes():
    linear = LinearModel(("a", "b", "c"), *(np.zeros(2),) * 3, np.zeros((3, 4)), np.zeros(3))
    with pytest.raises(ValueError):
        ShotModel(constant_trees([0.2, 0.7, 0.1]), linear, 0.5)
