"""Trains the hit model on cached tracks and reports leave-clips-out scores.

    python -m tools.track_cache          # once: runs the trackers over the labelled clips
    python -m tools.train_hits [--save]  # cross-validated scores; --save writes the model

Every frame of every clip is a sample; frames within 2 of a labelled hit are positives. The
scores printed come from models that never saw the clip they score (grouped folds), then
the shipped model is trained on all clips.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from analysis.court import Court
from analysis.hit_features import FEATURE_NAMES, PlayerShape, moment_features
from analysis.hits import THRESHOLD, net_row, pick_hits
from analysis.model import MODELS_DIR
from analysis.pose import Pose
from tools.dataset import Clip, aicup_clips, data_dir
from tools.scoring import Counts, hit_counts, match_hits
from tools.track_cache import load
from tools.training import clip_folds, parse_args, with_missing

POSITIVE_RADIUS = 2
SIDES = ("near", "far")


def shapes_at(track: dict, frame: int) -> dict[str, PlayerShape | None]:
    """Each player's latest posed shape at or before a frame (within 0.25 s)."""
    times = track["times"]
    out: dict[str, PlayerShape | None] = {}
    for side in SIDES:
        landmarks = track[f"{side}_landmarks"]
        shape = None
        for j in range(frame, -1, -1):
            if times[frame] - times[j] > 0.25:
                break
            if not np.isnan(landmarks[j, 0, 0]):
                pose = Pose(landmarks[j, :, :2].copy(), landmarks[j, :, 2].copy())
                shape = PlayerShape.from_pose(pose)
                break
        out[side] = shape
    return out


def clip_samples(clip: Clip) -> tuple[np.ndarray, np.ndarray, dict]:
    track = load(clip.name)
    times, xy = track["times"], track["shuttle"]
    net_y = net_row(Court.from_mapping(clip.corners))
    x = np.stack(
        [
            moment_features(times, xy, i, 720.0, shapes_at(track, i), net_y)
            for i in range(len(times))
        ]
    )
    y = np.zeros(len(times), dtype=int)
    for stroke in clip.strokes:
        y[max(0, stroke.frame - POSITIVE_RADIUS) : stroke.frame + POSITIVE_RADIUS + 1] = 1
    return x, y, track


def hitter_samples(clip: Clip, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Moments around each labelled hit, with whether the near player hit."""
    rows, near = [], []
    for stroke in clip.strokes:
        for f in range(stroke.frame - 1, stroke.frame + 2):
            if 0 <= f < len(x):
                rows.append(x[f])
                near.append(stroke.player == "near")
    return np.array(rows), np.array(near, dtype=int)


def fit(x: np.ndarray, y: np.ndarray):
    from sklearn.ensemble import GradientBoostingClassifier

    model = GradientBoostingClassifier(
        n_estimators=150, max_depth=3, learning_rate=0.08, subsample=0.8, random_state=0
    )
    model.fit(with_missing(x), y)
    return model


def score_clip(
    clip: Clip,
    proba: np.ndarray,
    p_near: np.ndarray,
    track: dict,
    tolerance: int = 6,
    threshold: float = THRESHOLD,
) -> Counts:
    hits = pick_hits(track["times"], proba, p_near, threshold=threshold)
    detected = [(int(i), side) for i, side, _ in hits]
    labelled = [(s.frame, s.player) for s in clip.strokes]
    return hit_counts(len(detected), len(labelled), match_hits(detected, labelled, tolerance))


def fit_both(clips: list[Clip], data: dict):
    """The hit model (every moment) and the hitter model (moments at labelled hits)."""
    hit_model = fit(
        np.vstack([data[c.name][0] for c in clips]),
        np.concatenate([data[c.name][1] for c in clips]),
    )
    pairs = [hitter_samples(c, data[c.name][0]) for c in clips]
    hitter_model = fit(np.vstack([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs]))
    return hit_model, hitter_model


def cross_validate(
    clips: list[Clip], data: dict, folds: int, thresholds: tuple[float, ...] = (THRESHOLD,)
) -> dict[float, dict[int, Counts]]:
    """Leave-clips-out hit scores at +-3 and +-6 frames for each threshold."""
    probas: dict[str, np.ndarray] = {}
    p_near: dict[str, np.ndarray] = {}
    for train, test in clip_folds(clips, folds):
        hit_model, hitter_model = fit_both(clips=train, data=data)
        for c in test:
            x = with_missing(data[c.name][0])
            probas[c.name] = hit_model.predict_proba(x)[:, 1]
            p_near[c.name] = hitter_model.predict_proba(x)[:, 1]
    return {
        threshold: {
            tol: sum(
                (
                    score_clip(c, probas[c.name], p_near[c.name], data[c.name][2], tol, threshold)
                    for c in clips
                ),
                Counts(0, 0, 0),
            )
            for tol in (3, 6)
        }
        for threshold in thresholds
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, argv)
    clips = aicup_clips(data_dir())
    data = {c.name: clip_samples(c) for c in clips}
    scores = cross_validate(clips, data, args.folds, (0.2, 0.3, 0.4, 0.5))
    for threshold, by_tolerance in scores.items():
        six, f1_three = by_tolerance[6].as_dict(), by_tolerance[3].f1
        print(f"threshold {threshold}: +-6 {six}, F1 +-3 {f1_three:.3f}")
    if args.save:
        from tools.export_model import export_boosted

        hit_model, hitter_model = fit_both(clips, data)
        for name, model, classes in (
            ("hits", hit_model, ("flight", "hit")),
            ("hitter", hitter_model, ("far", "near")),
        ):
            exported = export_boosted(model, FEATURE_NAMES, classes)
            path = MODELS_DIR / f"{name}.json"
            path.write_text(json.dumps(exported.to_json(), separators=(",", ":")))
            print(f"saved {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
