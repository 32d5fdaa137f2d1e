"""Trains the shot-type model on cached tracks at the labelled hits; prints held-out scores.

    python -m tools.track_cache           # once
    python -m tools.train_shots [--save]

Features come from the trackers' output (not from the labels) at each labelled hit and the
next one, as the analyzer computes them at run time. Scores are leave-clips-out.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from analysis.court import Court
from analysis.events import SHOT_TYPES
from analysis.hit_features import moment_features
from analysis.hits import net_row
from analysis.model import MODELS_DIR
from analysis.pose import Pose
from analysis.shot_features import (
    FEATURE_NAMES,
    FLIGHT_S,
    POSE_WINDOW_S,
    HitContext,
    shot_features,
)
from tools.dataset import Clip, aicup_clips, data_dir
from tools.scoring import type_scores
from tools.track_cache import load
from tools.train_hits import shapes_at
from tools.training import clip_folds, parse_args, with_missing


def context_at(track: dict, frame: int, player: str, net_y: float, flight_end: float) -> HitContext:
    """The hit as the analyzer's HitDetector history would show it."""
    times = track["times"]
    court_xy = None
    for j in range(frame, -1, -1):
        if times[frame] - times[j] > 0.25:
            break
        if track["posed"][j] and not np.isnan(track[f"{player}_court_xy"][j, 0]):
            court_xy = track[f"{player}_court_xy"][j]
            break
    poses = []
    landmarks = track[f"{player}_landmarks"]
    for j in np.flatnonzero(np.abs(times - times[frame]) <= POSE_WINDOW_S):
        if not np.isnan(landmarks[j, 0, 0]):
            poses.append(Pose(landmarks[j, :, :2].copy(), landmarks[j, :, 2].copy()))
    shapes = shapes_at(track, frame)
    moment = moment_features(times, track["shuttle"], frame, 720.0, shapes, net_y)
    xy = track["shuttle"]
    in_flight = (times >= times[frame]) & (times <= flight_end) & ~np.isnan(xy[:, 0])
    return HitContext(
        float(times[frame]), player, court_xy, tuple(poses), moment, xy[in_flight], 720.0
    )


def clip_samples(clip: Clip) -> tuple[np.ndarray, list[str]]:
    track = load(clip.name)
    strokes = clip.strokes
    net_y = net_row(Court.from_mapping(clip.corners))
    times = track["times"]
    contexts = []
    for k, s in enumerate(strokes):
        end = times[strokes[k + 1].frame] if k + 1 < len(strokes) else times[s.frame] + FLIGHT_S
        contexts.append(context_at(track, s.frame, s.player, net_y, end))
    rows = []
    for k, ctx in enumerate(contexts):
        nxt = contexts[k + 1] if k + 1 < len(contexts) else None
        prev = contexts[k - 1].time if k > 0 else None
        rows.append(shot_features(ctx, nxt, prev, k))
    return np.stack(rows), [s.type for s in strokes]


def fit(x: np.ndarray, y: list[str]):
    from sklearn.ensemble import GradientBoostingClassifier

    model = GradientBoostingClassifier(
        n_estimators=120,
        max_depth=2,
        learning_rate=0.1,
        subsample=0.8,
        min_samples_leaf=3,
        random_state=0,
    )
    model.fit(with_missing(x), y)
    return model


def cross_validate(clips: list[Clip], data: dict, folds: int) -> dict:
    """Leave-clips-out shot-type scores at the labelled hits."""
    truth, predicted = [], []
    for train, test in clip_folds(clips, folds):
        model = fit(
            np.vstack([data[c.name][0] for c in train]),
            [t for c in train for t in data[c.name][1]],
        )
        for c in test:
            x, y = data[c.name]
            truth += y
            predicted += list(model.predict(with_missing(x)))
    return type_scores(truth, predicted)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, argv)
    clips = aicup_clips(data_dir())
    data = {c.name: clip_samples(c) for c in clips}
    scores = cross_validate(clips, data, args.folds)
    print(
        f"held-out accuracy {scores['accuracy']}, macro-F1 {scores['macro_f1']} (n={scores['n']})"
    )
    for name, row in zip(scores["labels"], scores["confusion"]):
        print(f"{name:>12} {row}")
    if args.save:
        from tools.export_model import export_boosted

        x = np.vstack([data[c.name][0] for c in clips])
        y = [t for c in clips for t in data[c.name][1]]
        model = fit(x, y)
        exported = export_boosted(model, FEATURE_NAMES, tuple(model.classes_))
        assert set(exported.classes) <= set(SHOT_TYPES)
        path = MODELS_DIR / "shots.json"
        path.write_text(json.dumps(exported.to_json(), separators=(",", ":")))
        print(f"saved {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
