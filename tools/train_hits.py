"""Trains the hit and hitter models and chooses how hits are picked, held out by match.

Every moment the analyzer would score is a sample: every frame of the file, and every frame
a live stream at 15 and 10 frames a second would deliver (the shuttle tracked at that rate,
by the scorer that never saw the clip's match), so the models hold up at the rates phones
stream at. Moments within 2.5/30 s of a labelled hit are positives for the hit model; those
within 1.5/30 s teach the hitter model who hit.

How hits are then picked (`analysis.hit_sequence.PickerParams`: the threshold per sample
rate, the cost of a rally opened on the move) is chosen by the F1 it gives on moments scored
by models that did not see their match. The held-out scores are nested: for each match, the
models and the picking are chosen on the other matches alone.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from analysis.court import Court
from analysis.hit_features import (
    FEATURE_NAMES,
    PlayerShape,
    moment_features,
    swing_point,
    swing_window,
    wrist_travel,
)
from analysis.hit_sequence import Candidate, PickerParams, choose_hits, find_candidates
from analysis.hits import net_row
from analysis.model import BoostedTrees
from analysis.pose import Pose
from analysis.shot_features import moved_before
from tools.cache import CACHE_ROOT, code_digest, key_of, library_versions
from tools.dataset import Clip
from tools.export_model import export_boosted
from tools.scoring import Counts, hit_counts, match_hits
from tools.track_cache import load
from tools.training import TRAIN_RATES, Rate, match_folds, with_missing

POSITIVE_RADIUS_S = 2.5 / 30  # moments this close to a labelled hit are positives
HITTER_RADIUS_S = 1.5 / 30  # moments this close to a labelled hit teach the hitter model
TOLERANCE_S = 6 / 30  # a detected hit matches a label of the same player this close
SIDES = ("near", "far")

# Picking settings tried; thresholds are chosen per rate, the cost of a rally opened on the
# move is shared by all rates. The cost of a same-player pair and the hitter model's weight
# keep their reasoned defaults (`SequenceParams`): choosing them too, among near-equal
# scores on 9 matches, changed the choice from fold to fold more than it gained.
THRESHOLDS = (0.15, 0.2, 0.25, 0.3, 0.4, 0.5)
MOVING_START_PENALTIES = (0.0, 1.5, 3.0)


def shapes_at(track: dict, frame: int) -> dict[str, PlayerShape | None]:
    """Each player's latest posed shape at or before a frame (within 0.25 s), with how they
    swung in the poses around it."""
    times = track["times"]
    start, end = swing_window(float(times[frame]))
    near = np.flatnonzero((times >= start) & (times <= end))
    out: dict[str, PlayerShape | None] = {}
    for side in SIDES:
        landmarks = track[f"{side}_landmarks"]
        shape = None
        for j in range(frame, -1, -1):
            if times[frame] - times[j] > 0.25:
                break
            if not np.isnan(landmarks[j, 0, 0]):
                around = [
                    swing_point(_pose(landmarks[k]))
                    for k in near
                    if not np.isnan(landmarks[k, 0, 0])
                ]
                shape = PlayerShape.from_pose(_pose(landmarks[j]), wrist_travel(around))
                break
        out[side] = shape
    return out


def _pose(landmarks: np.ndarray) -> Pose:
    return Pose(landmarks[:, :2].copy(), landmarks[:, 2].copy())


@dataclass(frozen=True)
class HitSamples:
    """The moments of one clip as the analyzer scores them when fed at one input rate."""

    x: np.ndarray  # (n, features)
    y: np.ndarray  # (n,) 1 near a labelled hit
    times: np.ndarray  # (n,) seconds
    frames: np.ndarray  # (n,) frame numbers in the file
    fps: float  # of the file
    moved: np.ndarray  # (n, 2) metres the near and far player moved in the half second before
    seen: np.ndarray  # (n,) whether the shuttle was seen


def clip_samples(clip: Clip, rate: Rate = None) -> HitSamples:
    track = load(clip, rate)
    frames = np.flatnonzero(track["fed"])
    # The detector sees only the fed frames: features are computed over those alone.
    times, xy = track["times"][frames], track["shuttle"][frames]
    size = tuple(int(v) for v in track["size"])
    net_y = net_row(Court.from_mapping(clip.corners, size))
    x = np.stack(
        [
            moment_features(times, xy, k, size[1], shapes_at(track, int(f)), net_y)
            for k, f in enumerate(frames)
        ]
    )
    y = np.zeros(len(frames), dtype=int)
    for stroke in clip.strokes:
        y[np.abs(times - track["times"][stroke.frame]) <= POSITIVE_RADIUS_S] = 1
    fps = (len(track["times"]) - 1) / (track["times"][-1] - track["times"][0])
    seen = ~np.isnan(xy[:, 0])
    return HitSamples(x, y, times, frames, float(fps), moved_at(track, times), seen)


def moved_at(track: dict, times: np.ndarray) -> np.ndarray:
    """(n, 2): metres each player moved in the half second before each time, from the
    positions of the posed frames (as the detector has them)."""
    posed = track["posed"]
    out = np.full((len(times), len(SIDES)), np.nan)
    for k, side in enumerate(SIDES):
        where = posed & ~np.isnan(track[f"{side}_court_xy"][:, 0])
        pose_times, court_xy = track["times"][where], track[f"{side}_court_xy"][where]
        out[:, k] = [moved_before(pose_times, court_xy, float(t)) for t in times]
    return out


def hitter_samples(clip: Clip, samples: HitSamples) -> tuple[np.ndarray, np.ndarray]:
    """Moments around each labelled hit (the nearest one at least), with whether the near
    player hit."""
    rows, near = [], []
    for stroke in clip.strokes:
        hit_time = float(np.interp(stroke.frame, samples.frames, samples.times))
        chosen = np.abs(samples.times - hit_time) <= HITTER_RADIUS_S
        chosen[np.argmin(np.abs(samples.frames - stroke.frame))] = True
        rows += list(samples.x[chosen])
        near += [stroke.player == "near"] * int(chosen.sum())
    return np.array(rows), np.array(near, dtype=int)


def fit(x: np.ndarray, y: np.ndarray):
    from sklearn.ensemble import GradientBoostingClassifier

    model = GradientBoostingClassifier(
        n_estimators=150, max_depth=3, learning_rate=0.08, subsample=0.8, random_state=0
    )
    model.fit(with_missing(x), y)
    return model


Data = dict[tuple[str, Rate], HitSamples]


def load_data(clips: list[Clip], rates: Iterable[Rate] = TRAIN_RATES) -> Data:
    return {(c.key, r): clip_samples(c, r) for c in clips for r in rates}


def fit_both(clips: list[Clip], data: Data, rates: Iterable[Rate] = TRAIN_RATES):
    """The hit model (every moment) and the hitter model (moments at labelled hits), trained
    on the clips' tracks at every rate in `rates`."""
    keys = [(c, r) for c in clips for r in rates]
    hit_model = fit(
        np.vstack([data[c.key, r].x for c, r in keys]),
        np.concatenate([data[c.key, r].y for c, r in keys]),
    )
    pairs = [hitter_samples(c, data[c.key, r]) for c, r in keys]
    hitter_model = fit(np.vstack([p[0] for p in pairs]), np.concatenate([p[1] for p in pairs]))
    return hit_model, hitter_model


Probas = dict[tuple[str, Rate], tuple[np.ndarray, np.ndarray]]


def predict(models, samples: HitSamples) -> tuple[np.ndarray, np.ndarray]:
    hit_model, hitter_model = models
    x = with_missing(samples.x)
    return hit_model.predict_proba(x)[:, 1], hitter_model.predict_proba(x)[:, 1]


def held_out_probas(clips: list[Clip], data: Data, rates: tuple[Rate, ...]) -> Probas:
    """Each clip's moments scored by models trained without its match."""
    probas: Probas = {}
    for _, train, test in match_folds(clips):
        models = fit_both(train, data, rates)
        for c in test:
            for r in rates:
                probas[c.key, r] = predict(models, data[c.key, r])
    return probas


def score_hits(
    clip: Clip,
    samples: HitSamples,
    hits: list[tuple[int, str, float]],
    tolerance_s: float = TOLERANCE_S,
) -> Counts:
    detected = [(int(samples.frames[i]), side) for i, side, _ in hits]
    labelled = [(s.frame, s.player) for s in clip.strokes]
    tolerance = round(tolerance_s * samples.fps)
    return hit_counts(len(detected), len(labelled), match_hits(detected, labelled, tolerance))


def plateau(scores: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """(F1, setting) by increasing setting, each F1 averaged with its neighbours': on a few
    matches the best single setting is often a spike of luck, the middle of a broad high
    stretch is not."""
    f1s = [f1 for f1, _ in scores]
    return [
        (float(np.mean(f1s[max(0, i - 1) : i + 2])), setting)
        for i, (_, setting) in enumerate(scores)
    ]


def choose_picker(
    clips: list[Clip], data: Data, probas: Probas, rates: tuple[Rate, ...]
) -> PickerParams:
    """The picking settings with the best F1 on held-out probabilities: a threshold per rate,
    the middle of its high stretch (`plateau`), and the other settings shared (the best sum
    of the rates' smoothed F1)."""
    base = PickerParams()
    candidates: dict[tuple[str, Rate], list[Candidate[int]]] = {
        (c.key, r): find_candidates(
            data[c.key, r].times, *probas[c.key, r], base, data[c.key, r].moved
        )
        for c in clips
        for r in rates
    }
    best: tuple[float, PickerParams] | None = None
    for opening in MOVING_START_PENALTIES:
        thresholds, total = [], 0.0
        for r in rates:
            interval = 1 / 30 if r is None else 1 / r
            scores = []
            for threshold in THRESHOLDS:
                params = replace(
                    base, thresholds=((interval, threshold),), moving_start_penalty=opening
                )
                counts = Counts(0, 0, 0)
                for c in clips:
                    samples = data[c.key, r]
                    hits = choose_hits(samples.times, candidates[c.key, r], params, samples.seen)
                    counts = counts + score_hits(c, samples, hits)
                scores.append((counts.f1, threshold))
            f1, threshold = max(plateau(scores))
            thresholds.append((interval, threshold))
            total += f1
        params = replace(base, thresholds=tuple(sorted(thresholds)), moving_start_penalty=opening)
        if best is None or total > best[0]:
            best = (total, params)
    assert best is not None
    return best[1]


@dataclass(frozen=True)
class FoldResult:
    match: str
    params: PickerParams
    counts: dict[tuple[str, Rate, int], Counts]  # (clip key, rate, tolerance frames at 30 fps)
    probas: Probas
    hits: BoostedTrees  # the models trained without the match
    hitter: BoostedTrees


def _outer_fold(args) -> FoldResult:
    match, train, test, data, rates = args
    params = choose_picker(train, data, held_out_probas(train, data, rates), rates)
    models = fit_both(train, data, rates)
    counts, probas = {}, {}
    for c in test:
        for r in rates:
            samples = data[c.key, r]
            probas[c.key, r] = predict(models, samples)
            found = find_candidates(samples.times, *probas[c.key, r], params, samples.moved)
            hits = choose_hits(samples.times, found, params, samples.seen)
            for tolerance in (3, 6):
                counts[c.key, r, tolerance] = score_hits(c, samples, hits, tolerance / 30)
    hits, hitter = export_both(models)
    return FoldResult(match, params, counts, probas, hits, hitter)


def export_both(models) -> tuple[BoostedTrees, BoostedTrees]:
    """The hit and hitter models in the analyzer's format."""
    hit_model, hitter_model = models
    return (
        export_boosted(hit_model, FEATURE_NAMES, ("flight", "hit")),
        export_boosted(hitter_model, FEATURE_NAMES, ("far", "near")),
    )


def _digest(samples: HitSamples) -> str:
    digest = hashlib.sha256()
    for array in (samples.x, samples.y, samples.times, samples.frames, samples.moved, samples.seen):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def nested_scores(
    clips: list[Clip], data: Data, rates: tuple[Rate, ...] = TRAIN_RATES, workers: int = 2
) -> list[FoldResult]:
    """For each match: models and picking chosen on the other matches, scored on it.

    Cached: the result depends only on the clips' tracks (themselves keyed by content and
    code) and this module's code.
    """
    key = key_of(
        [(c.key, r, _digest(data[c.key, r]), repr(c.strokes)) for c in clips for r in rates],
        code_digest(["tools.train_hits", "analysis.hit_sequence", "tools.export_model"]),
        library_versions(("scikit-learn", "numpy")),
    )
    path = CACHE_ROOT / "nested" / f"hits_{key}.pickle"
    if path.exists():
        return pickle.loads(path.read_bytes())
    jobs = [(m, train, test, data, rates) for m, train, test in match_folds(clips)]
    if workers <= 1:
        results = [_outer_fold(job) for job in jobs]
    else:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_outer_fold, jobs))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps(results))
    return results
