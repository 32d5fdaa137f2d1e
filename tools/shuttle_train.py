"""Trains the shuttle candidate scorer (analysis/models/shuttle_candidates.json).

Every candidate blob the detector finds in the labelled clips becomes one example: positive
when it lies within 6 px of the labelled shuttle, negative otherwise. A network with one
hidden layer (16 units) is fitted with L-BFGS, positives weighted 10x. Clips are fed at
30 fps and at 15 fps (every 2nd frame), so the scorer sees both motion scales.

    python -m tools.shuttle_train                      # all clips -> the shipped model
    python -m tools.shuttle_train --cv 2               # held-out ranking quality per fold
    python -m tools.shuttle_train --exclude-fold 0/2 --out /tmp/fold0.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from analysis.shuttle_detect import (
    FEATURE_NAMES,
    MODEL_PATH,
    CandidateDetector,
    CandidateScorer,
    DistinctFrames,
)
from analysis.video import iter_frames
from tools.dataset import Clip, aicup_clips

POSITIVE_RADIUS = 6.0
POSITIVE_WEIGHT = 10.0
HIDDEN = 16


def collect(clip: Clip, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(features, labels, frame indices) of every candidate in a clip fed every `step` frames."""
    labels = clip.shuttle
    detector = CandidateDetector((1280, 720), scorer=_neutral_scorer(), max_candidates=None)
    frames = DistinctFrames()
    feats, ys, idx = [], [], []

    def take(ready) -> None:
        if ready is None:
            return
        cands = detector.detect(ready.prev, ready.cur, ready.next, ready.cur_bgr)
        visible, lx, ly = labels[ready.frame]
        y = np.zeros(len(cands))
        if visible == 1 and len(cands):
            y = (np.hypot(cands.xy[:, 0] - lx, cands.xy[:, 1] - ly) <= POSITIVE_RADIUS) * 1.0
        feats.append(cands.features)
        ys.append(y)
        idx.append(np.full(len(cands), ready.frame))

    for frame in iter_frames(clip.video):
        if frame.index % step == 0:
            take(frames.push(frame.index, frame.time, frame.image)[1])
    take(frames.finish())
    return np.concatenate(feats), np.concatenate(ys), np.concatenate(idx)


def _neutral_scorer() -> CandidateScorer:
    n = len(FEATURE_NAMES)
    return CandidateScorer(np.zeros(n), np.ones(n), np.zeros((n, 1)), np.zeros(1), np.zeros(1), 0.0)


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, seed: int = 0) -> CandidateScorer:
    """Fits the one-hidden-layer scorer by weighted logistic loss."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    weight = np.where(y == 1, POSITIVE_WEIGHT, 1.0)
    weight /= weight.sum()
    n, h = z.shape[1], HIDDEN
    rng = np.random.default_rng(seed)
    theta0 = np.concatenate(
        [rng.normal(0, 1 / np.sqrt(n), n * h), np.zeros(h), rng.normal(0, 1 / np.sqrt(h), h), [0.0]]
    )

    def unpack(theta):
        w1 = theta[: n * h].reshape(n, h)
        b1 = theta[n * h : n * h + h]
        w2 = theta[n * h + h : n * h + 2 * h]
        return w1, b1, w2, theta[-1]

    def loss(theta):
        w1, b1, w2, b2 = unpack(theta)
        pre = z @ w1 + b1
        hid = np.maximum(pre, 0)
        logit = hid @ w2 + b2
        p = 1 / (1 + np.exp(-logit))
        value = -(weight * (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))).sum()
        value += l2 * ((w1**2).sum() + (w2**2).sum())
        d_logit = weight * (p - y)
        g_w2 = hid.T @ d_logit + 2 * l2 * w2
        g_b2 = d_logit.sum()
        d_hid = np.outer(d_logit, w2) * (pre > 0)
        g_w1 = z.T @ d_hid + 2 * l2 * w1
        g_b1 = d_hid.sum(axis=0)
        return value, np.concatenate([g_w1.ravel(), g_b1, g_w2, [g_b2]])

    theta = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 1500}).x
    w1, b1, w2, b2 = unpack(theta)
    return CandidateScorer(mean, scale, w1, b1, w2, float(b2))


def top_k_recall(scores: np.ndarray, y: np.ndarray, frames: np.ndarray, ks=(1, 3, 5)) -> list:
    """Share of frames with a positive candidate where one is among the k best-scored."""
    out = []
    positive_frames = np.unique(frames[y == 1])
    for k in ks:
        hits = 0
        for f in positive_frames:
            sel = frames == f
            order = np.argsort(-scores[sel])[:k]
            hits += bool((y[sel][order] == 1).any())
        out.append(round(hits / max(1, len(positive_frames)), 3))
    return out


def load_examples(clips: list[Clip], cache: Path | None) -> dict[str, tuple]:
    examples = {}
    for clip in clips:
        for step in (1, 2):
            key = f"{clip.name}_{step}"
            path = cache / f"{key}.npz" if cache else None
            if path and path.exists():
                data = np.load(path)
                examples[key] = (data["x"], data["y"], data["f"])
                continue
            x, y, f = collect(clip, step)
            if path:
                path.parent.mkdir(parents=True, exist_ok=True)
                np.savez_compressed(path, x=x, y=y, f=f)
            examples[key] = (x, y, f)
    return examples


def fold_of(clips: list[Clip], fold: int, folds: int) -> set[str]:
    return {c.name for i, c in enumerate(clips) if i % folds == fold}


def stack(examples: dict[str, tuple], names: set[str]) -> tuple[np.ndarray, ...]:
    parts = [v for k, v in examples.items() if k.split("_")[0] in names]
    x = np.concatenate([p[0] for p in parts])
    y = np.concatenate([p[1] for p in parts])
    # Frame ids made unique across clips and rates for the ranking measure.
    f = np.concatenate([p[2] + 100_000 * i for i, p in enumerate(parts)])
    return x, y, f


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--cache", type=Path, help="folder for per-clip candidate features")
    parser.add_argument("--cv", type=int, help="report held-out ranking over this many folds")
    parser.add_argument("--exclude-fold", help="k/n: train without fold k of n (clips i%%n==k)")
    parser.add_argument("--out", type=Path, default=MODEL_PATH)
    args = parser.parse_args()

    clips = aicup_clips()
    examples = load_examples(clips, args.cache)
    all_names = {c.name for c in clips}
    if args.cv:
        for fold in range(args.cv):
            held = fold_of(clips, fold, args.cv)
            scorer = fit(*stack(examples, all_names - held)[:2])
            x, y, f = stack(examples, held)
            print(f"fold {fold}: held-out top-1/3/5 recall {top_k_recall(scorer(x), y, f)}")
        return
    train = all_names
    note = "all labelled clips"
    if args.exclude_fold:
        k, n = (int(v) for v in args.exclude_fold.split("/"))
        train = all_names - fold_of(clips, k, n)
        note = f"clips outside fold {k}/{n}"
    x, y = stack(examples, train)[:2]
    scorer = fit(x, y)
    data = scorer.to_dict()
    data["trained_on"] = f"{note}: {len(y)} candidates, {int(y.sum())} shuttles"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # One key per line, arrays inline: small and readable in a diff.
    lines = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in data.items())
    args.out.write_text("{\n" + lines + "\n}\n")
    print(f"wrote {args.out} ({data['trained_on']})")


if __name__ == "__main__":
    main()
