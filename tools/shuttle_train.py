"""Trains the shuttle candidate scorer (analysis/models/shuttle_candidates.json).

Every candidate blob the detector finds in a labelled clip becomes one example: positive when
it lies within 6 px (of a 1280-px-wide frame) of the labelled shuttle, negative otherwise.
Clips are fed at every rate the analyzer meets (every frame of the file, and 15 and 10 frames
a second as a live stream delivers them), so the scorer sees every motion scale; files faster
than the analysis takes give all their frames too. A network with one hidden layer (16 units)
is fitted with L-BFGS, positives weighted 10x, on the eight blob features and the first
PATCH_COMPONENTS principal components of the candidate's grey and motion patches; the
projection is then folded into the network's first layer, so the analyzer multiplies the
patches by one matrix.

The scorer learns from every shuttle-labelled source but the Denmark rallies, which stay a
venue no model has seen. `fold_scorer(match)` is the same scorer trained without one match:
what the tracker would be on footage of that match had it never been seen.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from analysis.shuttle_detect import (
    FEATURE_NAMES,
    PATCH_LENGTH,
    CandidateDetector,
    CandidateScorer,
    DistinctFrames,
    normalise_patches,
    work_scale,
)
from analysis.video import iter_frames, probe
from tools.cache import CACHE_ROOT, cached_arrays, code_digest, files_digest, key_of
from tools.dataset import Clip, shuttle_sources
from tools.training import SCORER_RATES, Rate, stream_frames

POSITIVE_RADIUS = 6.0  # px of a 1280-px-wide frame
POSITIVE_WEIGHT = 10.0
HIDDEN = 16
HELD_OUT_SOURCES = ("denmark",)  # never trained on: the unseen venue
PATCH_COMPONENTS = 8  # principal components kept of each of the grey and motion patches
NEGATIVE_SHARE = 1 / 8  # of the negatives a fit keeps (each weighs the more): 7x faster
DETECTOR_CODE = ("analysis.shuttle_detect", "analysis.video")


def training_clips(root: Path | None = None) -> list[Clip]:
    """Every shuttle-labelled clip the scorer may learn from."""
    return [
        clip
        for source, clips in shuttle_sources(root).items()
        if source not in HELD_OUT_SOURCES
        for clip in clips
    ]


def candidates(clip: Clip, rate: Rate) -> dict[str, np.ndarray]:
    """Features `x`, raw patches `p`, labels `y` and frame numbers `f` of every candidate of
    a clip fed at `rate` (cached by the clip's content and the detector's code)."""
    return cached_arrays(
        "candidates",
        f"{clip.source}_{clip.name}",
        _candidates_key(clip, rate),
        lambda: _collect(clip, rate),
    )


def _candidates_key(clip: Clip, rate: Rate) -> str:
    return key_of(
        files_digest(clip.files()),
        code_digest(DETECTOR_CODE),
        inspect.getsource(_collect),
        inspect.getsource(stream_frames),
        rate,
    )


def _collect(clip: Clip, rate: Rate) -> dict[str, np.ndarray]:
    info = probe(clip.video)
    size = (info.width, info.height)
    radius = POSITIVE_RADIUS * work_scale(size)
    detector = CandidateDetector(
        size, scorer=_neutral_scorer(), max_candidates=None, keep_patches=True
    )
    frames = DistinctFrames()
    feats, patches, ys, idx = [], [], [], []

    def take(ready) -> None:
        if ready is None or ready.frame >= len(clip.shuttle):
            return
        cands = detector.detect(ready.prev, ready.cur, ready.next, ready.cur_bgr)
        visible, lx, ly = clip.shuttle[ready.frame]
        y = np.zeros(len(cands))
        if visible == 1 and len(cands):
            y = (np.hypot(cands.xy[:, 0] - lx, cands.xy[:, 1] - ly) <= radius) * 1.0
        feats.append(cands.features)
        patches.append(cands.patches)
        ys.append(y)
        idx.append(np.full(len(cands), ready.frame))

    # Every frame of a file, even of video faster than the analysis takes (which thins it to
    # 30 a second): the small steps of fast video are more examples of the shuttle. Trained on
    # the thinned frames instead, the scorer lost 0.017 of nested hit F1 at 10 fps.
    fed_frames = (
        ((frame, True) for frame in iter_frames(clip.video))
        if rate is None
        else stream_frames(iter_frames(clip.video), rate)
    )
    for frame, fed in fed_frames:
        if fed:
            take(frames.push(frame.index, frame.time, frame.image)[1])
    take(frames.finish())
    empty = np.zeros((0, len(FEATURE_NAMES)))
    return {
        "x": np.concatenate(feats) if feats else empty,
        "p": np.concatenate(patches) if patches else np.zeros((0, PATCH_LENGTH), np.uint8),
        "y": np.concatenate(ys) if ys else np.zeros(0),
        "f": np.concatenate(idx) if idx else np.zeros(0, dtype=np.int64),
    }


def _neutral_scorer() -> CandidateScorer:
    n = len(FEATURE_NAMES)
    return CandidateScorer(np.zeros(n), np.ones(n), np.zeros((n, 1)), np.zeros(1), np.zeros(1), 0.0)


def fit(
    x: np.ndarray,
    y: np.ndarray,
    sample_weight: np.ndarray | None = None,
    patches: np.ndarray | None = None,
    l2: float = 1e-3,
    seed: int = 0,
) -> CandidateScorer:
    """Fits the one-hidden-layer scorer by weighted logistic loss (on the blob features, and
    the principal components of the raw `patches` when given)."""
    projection = None
    if patches is not None:
        projection = _patch_projection(normalise_patches(patches))
        x = np.hstack([x, normalise_patches(patches) @ projection[0] - projection[1]])
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / scale
    weight = np.where(y == 1, POSITIVE_WEIGHT, 1.0)
    if sample_weight is not None:
        weight = weight * sample_weight
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

    # One BLAS thread: with more, sums are split differently from machine to machine, and the
    # fit (so every track, and every model after it) would differ in the last bits.
    with threadpool_limits(limits=1):
        theta = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 1500}).x
    w1, b1, w2, b2 = unpack(theta)
    k = len(FEATURE_NAMES)
    if projection is None:
        return CandidateScorer(mean, scale, w1, b1, w2, float(b2))
    # Fold projection and standardisation of the components into the first layer.
    basis, offset = projection
    w1_components = w1[k:] / scale[k:, None]
    b1 = b1 - (offset + mean[k:]) @ w1_components
    return CandidateScorer(mean[:k], scale[:k], w1[:k], b1, w2, float(b2), basis @ w1_components)


def _patch_projection(normalised: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(PATCH_LENGTH, 2 * PATCH_COMPONENTS) basis, block-diagonal over the grey and the motion
    halves, and the components' offset (the mean patch projected)."""
    half = PATCH_LENGTH // 2
    basis = np.zeros((PATCH_LENGTH, 2 * PATCH_COMPONENTS))
    for i, part in enumerate((slice(0, half), slice(half, PATCH_LENGTH))):
        block = normalised[:, part]
        centred = block - block.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        # A fixed sign per component, so refits of the same data agree bit for bit.
        signs = np.sign(vt[:PATCH_COMPONENTS].sum(axis=1, keepdims=True) + 1e-12)
        cols = slice(i * PATCH_COMPONENTS, (i + 1) * PATCH_COMPONENTS)
        basis[part, cols] = (vt[:PATCH_COMPONENTS] * signs).T
    return basis, normalised.mean(axis=0) @ basis


def train_scorer(clips: Iterable[Clip], rates: tuple[Rate, ...] = SCORER_RATES) -> CandidateScorer:
    """The scorer fitted to every candidate of `clips` at every rate (cached by the
    candidates' own keys and the fitting code)."""
    clips = sorted(clips, key=lambda c: c.key)
    key = key_of(
        [_candidates_key(c, r) for c in clips for r in rates],
        inspect.getsource(fit),
        inspect.getsource(_subsample),
        inspect.getsource(_patch_projection),
        [HIDDEN, POSITIVE_WEIGHT, NEGATIVE_SHARE, PATCH_COMPONENTS],
    )
    path = CACHE_ROOT / "scorers" / f"{key}.json"
    if path.exists():
        return CandidateScorer.from_dict(json.loads(path.read_text()))
    parts = [_subsample(candidates(c, r), f"{c.key}@{r}") for c in clips for r in rates]
    x, y, w, p = (np.concatenate([part[k] for part in parts]) for k in ("x", "y", "w", "p"))
    scorer = fit(x, y, w, patches=p)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(scorer.to_dict()))
    return scorer


def _subsample(examples: dict[str, np.ndarray], seed_text: str) -> dict[str, np.ndarray]:
    """Every positive and a fixed random NEGATIVE_SHARE of the negatives, which weigh
    1 / NEGATIVE_SHARE each: the same loss in expectation, on far fewer rows."""
    seed = int(hashlib.sha256(seed_text.encode()).hexdigest()[:8], 16)
    keep = (examples["y"] == 1) | (
        np.random.default_rng(seed).random(len(examples["y"])) < NEGATIVE_SHARE
    )
    weight = np.where(examples["y"][keep] == 1, 1.0, 1.0 / NEGATIVE_SHARE)
    return {
        "x": examples["x"][keep],
        "p": examples["p"][keep],
        "y": examples["y"][keep],
        "w": weight,
    }


@cache
def fold_scorer(match: str | None) -> CandidateScorer:
    """The scorer trained on every training clip outside `match` (None: on all of them)."""
    return train_scorer(c for c in training_clips() if c.match != match)


def scorer_json(scorer: CandidateScorer, note: str) -> str:
    """The shipped file: one key per line, arrays inline (small and readable in a diff)."""
    data = {**scorer.to_dict(), "trained_on": note}
    lines = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in data.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"


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
