"""Trains the shot-type model on cached tracks at the labelled hits; prints held-out scores.

    python -m tools.track_cache           # once
    python -m tools.train_shots [--save]

Features come from the trackers' output (not from the labels) at each labelled hit and the
next one, as the analyzer computes them at run time: from every frame of the file, and from
the frames a live stream at 15 and 10 frames a second would deliver (the hit then falls on
the delivered frame nearest to it). Scores are leave-clips-out, per input rate.
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
from tools.training import Rate, clip_folds, parse_args, rate_name, with_missing


def context_at(
    track: dict, fed: np.ndarray, k: int, player: str, net_y: float, flight_end: float
) -> HitContext:
    """The hit at fed frame `fed[k]` as the analyzer's HitDetector history would show it
    (`fed`: the frame numbers the analyzer was given)."""
    times = track["times"]
    frame = int(fed[k])
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
    fed_times, xy = times[fed], track["shuttle"][fed]
    moment = moment_features(fed_times, xy, k, 720.0, shapes_at(track, frame), net_y)
    in_flight = (fed_times >= times[frame]) & (fed_times <= flight_end) & ~np.isnan(xy[:, 0])
    return HitContext(
        float(times[frame]), player, court_xy, tuple(poses), moment, xy[in_flight], 720.0
    )


def clip_samples(clip: Clip, stream_fps: Rate = None) -> tuple[np.ndarray, list[str]]:
    track = load(clip.name, stream_fps)
    fed = np.flatnonzero(track["fed"])
    strokes = clip.strokes
    net_y = net_row(Court.from_mapping(clip.corners))
    # Each labelled hit as detected at the nearest frame the analyzer was given.
    at = [int(np.argmin(np.abs(fed - s.frame))) for s in strokes]
    times = track["times"][fed]
    contexts = []
    for k, s in enumerate(strokes):
        end = times[at[k + 1]] if k + 1 < len(strokes) else times[at[k]] + FLIGHT_S
        contexts.append(context_at(track, fed, at[k], s.player, net_y, end))
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
        min_samples_leaf=9,
        random_state=0,
    )
    model.fit(with_missing(x), y)
    return model


Data = dict[tuple[str, Rate], tuple[np.ndarray, list[str]]]


def fit_rates(clips: list[Clip], data: Data, rates: tuple[Rate, ...]):
    keys = [(c.name, r) for c in clips for r in rates]
    return fit(np.vstack([data[k][0] for k in keys]), [t for k in keys for t in data[k][1]])


def cross_validate(
    clips: list[Clip],
    data: Data,
    folds: int,
    train_rates: tuple[Rate, ...] = (None,),
    test_rates: tuple[Rate, ...] = (None,),
) -> dict[Rate, dict]:
    """Leave-clips-out shot-type scores at the labelled hits, per input rate."""
    truth: dict[Rate, list[str]] = {r: [] for r in test_rates}
    predicted: dict[Rate, list[str]] = {r: [] for r in test_rates}
    for train, test in clip_folds(clips, folds):
        model = fit_rates(train, data, train_rates)
        for c in test:
            for r in test_rates:
                x, y = data[c.name, r]
                truth[r] += y
                predicted[r] += list(model.predict(with_missing(x)))
    return {r: type_scores(truth[r], predicted[r]) for r in test_rates}


def load_data(clips: list[Clip], rates: tuple[Rate, ...]) -> Data:
    return {(c.name, r): clip_samples(c, r) for c in clips for r in rates}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, argv)
    clips = aicup_clips(data_dir())
    data = load_data(clips, tuple(dict.fromkeys((*args.rates, *args.test_rates))))
    for rate, scores in cross_validate(
        clips, data, args.folds, args.rates, args.test_rates
    ).items():
        print(
            f"{rate_name(rate)}: held-out accuracy {scores['accuracy']}, macro-F1 "
            f"{scores['macro_f1']} (n={scores['n']})"
        )
        for name, row in zip(scores["labels"], scores["confusion"]):
            print(f"{name:>12} {row}")
    if args.save:
        from tools.export_model import export_boosted

        model = fit_rates(clips, data, args.rates)
        exported = export_boosted(model, FEATURE_NAMES, tuple(model.classes_))
        assert set(exported.classes) <= set(SHOT_TYPES)
        path = MODELS_DIR / "shots.json"
        path.write_text(json.dumps(exported.to_json(), separators=(",", ":")))
        print(f"saved {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
