"""The evaluation's scoring rules."""

from __future__ import annotations

import numpy as np
import pytest

from tools.scoring import match_hits, shuttle_counts, type_scores


def test_hits_match_same_player_within_tolerance_once():
    labels = [(100, "near"), (130, "far"), (160, "near")]
    detected = [(103, "near"), (128, "near"), (131, "far"), (132, "far"), (175, "near")]
    pairs = match_hits(detected, labels, tolerance=6)
    assert pairs == [(0, 0), (2, 1)]
    assert match_hits(detected, labels, tolerance=2) == [(2, 1)]


def test_shuttle_counts_within_radius():
    nan = np.nan
    labelled = np.array([[10, 10], [20, 20], [nan, nan], [40, 40]], float)
    predicted = np.array([[12, 10], [50, 50], [5, 5], [nan, nan]], float)
    counts = shuttle_counts(predicted, labelled, radius=10)
    assert (counts.tp, counts.fp, counts.fn) == (1, 2, 2)


def test_type_scores():
    truth = ["smash", "smash", "net_shot", "lift"]
    pred = ["smash", "clear", "net_shot", "net_shot"]
    scores = type_scores(truth, pred)
    assert scores["accuracy"] == pytest.approx(0.5)
    # per class F1: smash 2/3, clear 0, net_shot 2/3, lift 0
    assert scores["macro_f1"] == pytest.approx(round((2 / 3 + 2 / 3) / 4, 3))
    assert sum(map(sum, scores["confusion"])) == 4
