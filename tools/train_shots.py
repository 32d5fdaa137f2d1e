"""Trains the shot-type model on cached tracks at the labelled hits; held-out scores by match.

Features come from the trackers' output (not from the labels) at each labelled hit and the
next one, as the analyzer computes them at run time: from every frame of the file, and from
the frames a live stream at 15 and 10 frames a second would deliver (the hit then falls on
the delivered frame nearest to it). Two models are trained: `shots` types a stroke once the
next hit (or the end of the rally) is known, `shots_open` as soon as the hit is found (one
model for both was measured worse at the first: 0.70 against 0.77 held out).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analysis.camera import camera_projection
from analysis.court import Court
from analysis.hit_features import moment_features
from analysis.hits import net_row
from analysis.pose import Pose
from analysis.shot_features import (
    POSE_WINDOW_S,
    Flight,
    HitContext,
    moved_before,
    shot_features,
)
from tools.dataset import Clip
from tools.scoring import type_scores
from tools.track_cache import load
from tools.train_hits import shapes_at
from tools.training import TRAIN_RATES, Rate, match_folds, with_missing


@dataclass(frozen=True)
class ShotSamples:
    """The labelled strokes of one clip at one input rate."""

    final: np.ndarray  # (n, features): typed with the next hit known (or the rally over)
    provisional: np.ndarray  # (n, features): typed as soon as the hit is found
    types: list[str]


def context_at(track: dict, fed: np.ndarray, k: int, player: str, net_y: float) -> HitContext:
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
    height = float(track["size"][1])
    moment = moment_features(fed_times, xy, k, height, shapes_at(track, frame), net_y)
    before = np.flatnonzero(track["posed"][: frame + 1])
    moved = moved_before(times[before], track[f"{player}_court_xy"][before], float(times[frame]))
    return HitContext(float(times[frame]), player, court_xy, tuple(poses), moment, moved)


def clip_samples(clip: Clip, rate: Rate = None) -> ShotSamples:
    track = load(clip, rate)
    fed = np.flatnonzero(track["fed"])
    size = tuple(int(v) for v in track["size"])
    court = Court.from_mapping(clip.corners, size)
    net_y, projection = net_row(court), camera_projection(court, size)
    fed_times, xy = track["times"][fed], track["shuttle"][fed]
    seen = ~np.isnan(xy[:, 0])
    # Each labelled hit as detected at the nearest frame the analyzer was given.
    strokes = clip.strokes
    at = [int(np.argmin(np.abs(fed - s.frame))) for s in strokes]
    contexts = [context_at(track, fed, at[k], s.player, net_y) for k, s in enumerate(strokes)]
    final, provisional = [], []
    for k, ctx in enumerate(contexts):
        nxt = contexts[k + 1] if k + 1 < len(contexts) else None
        flight = None
        if nxt is not None:
            inside = seen & (fed_times >= ctx.time) & (fed_times <= nxt.time)
            flight = Flight(fed_times[inside], xy[inside], projection)
        final.append(shot_features(ctx, nxt, flight, k, rally_over=nxt is None))
        provisional.append(shot_features(ctx, None, None, k, rally_over=False))
    return ShotSamples(np.stack(final), np.stack(provisional), [s.type for s in strokes])


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


Data = dict[tuple[str, Rate], ShotSamples]


def load_data(clips: list[Clip], rates: tuple[Rate, ...] = TRAIN_RATES) -> Data:
    return {(c.key, r): clip_samples(c, r) for c in clips for r in rates}


def fit_rates(
    clips: list[Clip], data: Data, rates: tuple[Rate, ...] = TRAIN_RATES, final: bool = True
):
    """The model typing strokes once the next hit is known (`final`) or at once, trained at
    every rate."""
    parts = [data[c.key, r] for c in clips for r in rates]
    x = np.vstack([p.final if final else p.provisional for p in parts])
    return fit(x, [t for p in parts for t in p.types])


@dataclass(frozen=True)
class TypeScores:
    final: dict  # type_scores once the next hit is known
    provisional: dict  # type_scores as first announced


def held_out_scores(
    clips: list[Clip], data: Data, rates: tuple[Rate, ...] = TRAIN_RATES
) -> dict[Rate, TypeScores]:
    """Shot-type scores at the labelled hits, each match typed by a model trained without
    it, per input rate."""
    truth: dict[Rate, list[str]] = {r: [] for r in rates}
    final: dict[Rate, list[str]] = {r: [] for r in rates}
    provisional: dict[Rate, list[str]] = {r: [] for r in rates}
    for _, train, test in match_folds(clips):
        settled = fit_rates(train, data, rates, final=True)
        first = fit_rates(train, data, rates, final=False)
        for c in test:
            for r in rates:
                samples = data[c.key, r]
                truth[r] += samples.types
                final[r] += list(settled.predict(with_missing(samples.final)))
                provisional[r] += list(first.predict(with_missing(samples.provisional)))
    return {
        r: TypeScores(type_scores(truth[r], final[r]), type_scores(truth[r], provisional[r]))
        for r in rates
    }
