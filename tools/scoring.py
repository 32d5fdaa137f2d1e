"""Scores for the analyzer against labels: hit matching, shot types, shuttle and positions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.events import SHOT_TYPES


@dataclass(frozen=True)
class Counts:
    tp: int
    fp: int
    fn: int

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 3),
            "recall": round(self.recall, 3),
            "f1": round(self.f1, 3),
        }


def match_hits(
    detected: Sequence[tuple[int, str]], labelled: Sequence[tuple[int, str]], tolerance: int
) -> list[tuple[int, int]]:
    """Pairs detections with labels of the same player within `tolerance` frames.

    Greedy by frame distance, each label and detection used once. Returns
    (detected index, label index) pairs.
    """
    candidates = sorted(
        (abs(df - lf), i, j)
        for i, (df, dp) in enumerate(detected)
        for j, (lf, lp) in enumerate(labelled)
        if dp == lp and abs(df - lf) <= tolerance
    )
    used_d: set[int] = set()
    used_l: set[int] = set()
    pairs = []
    for _, i, j in candidates:
        if i not in used_d and j not in used_l:
            used_d.add(i)
            used_l.add(j)
            pairs.append((i, j))
    return sorted(pairs, key=lambda p: p[1])


def hit_counts(n_detected: int, n_labelled: int, pairs: Sequence) -> Counts:
    return Counts(len(pairs), n_detected - len(pairs), n_labelled - len(pairs))


def shuttle_counts(predicted: np.ndarray, labelled: np.ndarray, radius: float = 10.0) -> Counts:
    """Per-frame shuttle scores. Both arrays are (frames, 2) pixels with NaN where unseen."""
    n = min(len(predicted), len(labelled))
    pred, lab = predicted[:n], labelled[:n]
    pred_seen = ~np.isnan(pred[:, 0])
    lab_seen = ~np.isnan(lab[:, 0])
    dist = np.linalg.norm(np.nan_to_num(pred - lab, nan=1e9), axis=1)
    tp = int(np.sum(pred_seen & lab_seen & (dist <= radius)))
    fp = int(np.sum(pred_seen)) - tp
    fn = int(np.sum(lab_seen)) - tp
    return Counts(tp, fp, fn)


def type_scores(truth: Sequence[str], predicted: Sequence[str]) -> dict:
    """Accuracy, macro-F1 over the classes present in truth or predictions, and the
    confusion matrix (rows: truth, columns: predicted, in SHOT_TYPES order)."""
    index = {t: k for k, t in enumerate(SHOT_TYPES)}
    matrix = np.zeros((len(SHOT_TYPES), len(SHOT_TYPES)), dtype=int)
    for t, p in zip(truth, predicted):
        matrix[index[t], index[p]] += 1
    total = matrix.sum()
    f1s = []
    for k in range(len(SHOT_TYPES)):
        tp = matrix[k, k]
        support, predicted_k = matrix[k].sum(), matrix[:, k].sum()
        if support == 0 and predicted_k == 0:
            continue
        f1s.append(2 * tp / (support + predicted_k) if support + predicted_k else 0.0)
    return {
        "n": int(total),
        "accuracy": round(float(np.trace(matrix) / total), 3) if total else 0.0,
        "macro_f1": round(float(np.mean(f1s)), 3) if f1s else 0.0,
        "labels": list(SHOT_TYPES),
        "confusion": matrix.tolist(),
    }


def error_stats(errors: Sequence[float]) -> dict[str, float | int | None]:
    if not errors:
        return {"n": 0, "median": None, "p90": None}
    arr = np.asarray(errors, dtype=float)
    return {
        "n": len(arr),
        "median": round(float(np.median(arr)), 3),
        "p90": round(float(np.percentile(arr, 90)), 3),
    }
