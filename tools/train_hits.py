"""Trains the hit model on cached tracks and reports leave-clips-out scores.

    python -m tools.track_cache          # once: runs the trackers over the labelled clips
    python -m tools.train_hits [--save]  # cross-validated scores; --save writes the model

Every moment the analyzer would score is a sample: every frame of the file, and every frame
a live stream at 15 and 10 frames a second would deliver (the shuttle tracked at that rate),
so the model holds up at the rates phones stream at. Moments within 2/30 s of a labelled
hit are positives. The scores printed, per input rate, come from models that never saw the
clip they score (folds by clip, all rates of a clip on the same side), then the shipped
model is trained on all clips.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from analysis.court import Court
from analysis.hit_features import FEATURE_NAMES, PlayerShape, moment_features
from analysis.hits import net_row, pick_hits
from analysis.model import MODELS_DIR
from analysis.pose import Pose
from tools.dataset import Clip, aicup_clips, data_dir
from tools.scoring import Counts, hit_counts, match_hits
from tools.track_cache import load
from tools.training import Rate, clip_folds, parse_args, rate_name, with_missing

POSITIVE_RADIUS_S = 2.5 / 30  # moments this close to a labelled hit are positives
HITTER_RADIUS_S = 1.5 / 30  # moments this close to a labelled hit teach the hitter model
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


@dataclass(frozen=True)
class HitSamples:
    """The moments of one clip as the analyzer scores them when fed at one input rate."""

    x: np.ndarray  # (n, features)
    y: np.ndarray  # (n,) 1 near a labelled hit
    times: np.ndarray  # (n,) seconds
    frames: np.ndarray  # (n,) frame numbers in the file


def clip_samples(clip: Clip, stream_fps: Rate = None) -> HitSamples:
    track = load(clip.name, stream_fps)
    frames = np.flatnonzero(track["fed"])
    # The detector sees only the fed frames: features are computed over those alone.
    times, xy = track["times"][frames], track["shuttle"][frames]
    net_y = net_row(Court.from_mapping(clip.corners))
    x = np.stack(
        [
            moment_features(times, xy, k, 720.0, shapes_at(track, int(f)), net_y)
            for k, f in enumerate(frames)
        ]
    )
    y = np.zeros(len(frames), dtype=int)
    for stroke in clip.strokes:
        y[np.abs(times - track["times"][stroke.frame]) <= POSITIVE_RADIUS_S] = 1
    return HitSamples(x, y, times, frames)


def hitter_samples(clip: Clip, samples: HitSamples) -> tuple[np.ndarray, np.ndarray]:
    """Moments around each labelled hit (the nearest one at least), with whether the near
    player hit."""
    rows, near = [], []
    for stroke in clip.strokes:
        t = samples.times[np.argmin(np.abs(samples.frames - stroke.frame))]
        hit_time = _frame_time(samples, stroke.frame)
        chosen = np.abs(samples.times - hit_time) <= HITTER_RADIUS_S
        chosen |= samples.times == t
        rows += list(samples.x[chosen])
        near += [stroke.player == "near"] * int(chosen.sum())
    return np.array(rows), np.array(near, dtype=int)


def _frame_time(samples: HitSamples, frame: int) -> float:
    """A file frame's time, from the fed frames around it (the rate is constant enough)."""
    return float(np.interp(frame, samples.frames, samples.times))


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
    samples: HitSamples,
    tolerance: int = 6,
    threshold: float | None = None,
) -> Counts:
    hits = pick_hits(samples.times, proba, p_near, threshold=threshold)
    detected = [(int(samples.frames[i]), side) for i, side, _ in hits]
    labelled = [(s.frame, s.player) for s in clip.strokes]
    return hit_counts(len(detected), len(labelled), match_hits(detected, labelled, tolerance))


Data = dict[tuple[str, Rate], HitSamples]


def fit_both(clips: list[Clip], data: Data, rates: Iterable[Rate]):
    """The hit model (every moment) and the hitter model (moments at labelled hits), trained
    on the clips' tracks at every rate in `rates`."""
    keys = [(c, r) for c in clips for r in rates]
    hit_model = fit(
        np.vstack([data[c.name, r].x for c, r in keys]),
        np.concatenate([data[c.name, r].y for c, r in keys]),
    )
    pairs = [hitter_samples(c, data[c.name, r]) for c, r in keys]
    hitter_model = fit(np.vstack([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs]))
    return hit_model, hitter_model


def cross_validate(
    clips: list[Clip],
    data: Data,
    folds: int,
    thresholds: tuple[float | None, ...] = (None,),
    train_rates: tuple[Rate, ...] = (None,),
    test_rates: tuple[Rate, ...] = (None,),
) -> dict[Rate, dict[float | None, dict[int, Counts]]]:
    """Leave-clips-out hit scores per input rate, at +-3 and +-6 frames, per threshold
    (None: the one the detector picks for the rate)."""
    probas: dict[tuple[str, Rate], tuple[np.ndarray, np.ndarray]] = {}
    for train, test in clip_folds(clips, folds):
        hit_model, hitter_model = fit_both(train, data, train_rates)
        for c in test:
            for r in test_rates:
                x = with_missing(data[c.name, r].x)
                probas[c.name, r] = (
                    hit_model.predict_proba(x)[:, 1],
                    hitter_model.predict_proba(x)[:, 1],
                )
    return {
        r: {
            threshold: {
                tol: sum(
                    (
                        score_clip(c, *probas[c.name, r], data[c.name, r], tol, threshold)
                        for c in clips
                    ),
                    Counts(0, 0, 0),
                )
                for tol in (3, 6)
            }
            for threshold in thresholds
        }
        for r in test_rates
    }


def load_data(clips: list[Clip], rates: Iterable[Rate]) -> Data:
    return {(c.name, r): clip_samples(c, r) for c in clips for r in rates}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(__doc__, argv)
    clips = aicup_clips(data_dir())
    rates = tuple(dict.fromkeys((*args.rates, *args.test_rates)))
    data = load_data(clips, rates)
    scores = cross_validate(
        clips, data, args.folds, (None, 0.2, 0.3, 0.4), args.rates, args.test_rates
    )
    for rate, by_threshold in scores.items():
        for threshold, by_tolerance in by_threshold.items():
            six, f1_three = by_tolerance[6].as_dict(), by_tolerance[3].f1
            name = "for the rate" if threshold is None else threshold
            print(f"{rate_name(rate)} threshold {name}: +-6 {six}, F1 +-3 {f1_three:.3f}")
    if args.save:
        from tools.export_model import export_boosted

        hit_model, hitter_model = fit_both(clips, data, args.rates)
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
