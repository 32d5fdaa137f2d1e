"""Trains the shot-type model on cached tracks at the labelled hits; held-out scores by match.

Features come from the trackers' output (not from the labels) at each labelled hit and the
next one, as the analyzer computes them at run time: from every frame of the file, and from
the frames a live stream at 15 and 10 frames a second would deliver (the hit then falls on
the delivered frame nearest to it). Two models are trained: `shots` types a stroke once the
next hit (or the end of the rally) is known, `shots_open` as soon as the hit is found (one
model for both was measured worse at the first: 0.70 against 0.77 held out). Each is boosted
trees averaged with a logistic regression, and `shots_open` also weighs what usually follows
the previous shot's type (analysis/shots_model.py); how much the linear model and the previous
shot count is chosen by leave-one-match-out on the training matches only, so the held-out
scores stay nested.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from analysis.camera import camera_projection
from analysis.court import Court
from analysis.hit_features import moment_features
from analysis.hits import net_row
from analysis.pose import Pose
from analysis.shot_features import (
    FEATURE_NAMES,
    POSE_WINDOW_S,
    Flight,
    HitContext,
    landing,
    moved_before,
    shot_features,
)
from analysis.shots_model import LinearModel, ShotModel
from tools.dataset import Clip
from tools.export_model import export_boosted
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
    shuttle = Flight(fed_times, xy, projection)  # each stroke's features take their part of it
    # Each labelled hit as detected at the nearest frame the analyzer was given.
    strokes = clip.strokes
    at = [int(np.argmin(np.abs(fed - s.frame))) for s in strokes]
    contexts = [context_at(track, fed, at[k], s.player, net_y) for k, s in enumerate(strokes)]
    final, provisional = [], []
    for k, ctx in enumerate(contexts):
        nxt = contexts[k + 1] if k + 1 < len(contexts) else None
        # A clip is one rally: its last stroke's shuttle is followed until it comes down.
        down = landing(ctx.time, fed_times, xy, court) if nxt is None else None
        final.append(shot_features(ctx, nxt, shuttle, k, rally_over=nxt is None, came_down=down))
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


def fit_linear(x: np.ndarray, y: list[str]) -> LinearModel:
    """A multinomial logistic regression (scikit-learn's default strength) on standardised
    features, with a missing-value indicator per feature."""
    from sklearn.linear_model import LogisticRegression

    fill = np.nanmedian(np.where(np.isnan(x).all(axis=0), 0.0, x), axis=0)  # never-seen: 0
    filled = np.where(np.isnan(x), fill, x)
    mean, scale = filled.mean(axis=0), filled.std(axis=0) + 1e-6
    unfitted = LinearModel(tuple(sorted(set(y))), fill, mean, scale, np.zeros(0), np.zeros(0))
    model = LogisticRegression(C=1.0, max_iter=5000).fit(unfitted.inputs(x), y)
    weights, bias = model.coef_, model.intercept_
    if len(model.classes_) == 2:  # scikit-learn keeps one row for two classes
        weights, bias = np.vstack([-weights / 2, weights / 2]), np.array([-bias[0], bias[0]]) / 2
    return LinearModel(tuple(model.classes_), fill, mean, scale, weights, bias)


Data = dict[tuple[str, Rate], ShotSamples]


def load_data(clips: list[Clip], rates: tuple[Rate, ...] = TRAIN_RATES) -> Data:
    return {(c.key, r): clip_samples(c, r) for c in clips for r in rates}


def _rows(clips: list[Clip], data: Data, rates: tuple[Rate, ...], final: bool):
    """Feature rows and types of the clips at every rate, once the next hit is known (`final`)
    or at once."""
    parts = [data[c.key, r] for c in clips for r in rates]
    x = np.vstack([p.final if final else p.provisional for p in parts])
    return x, [t for p in parts for t in p.types]


MIXES = (0.0, 0.25, 0.5, 0.75, 1.0)  # the linear model's shares tried
SHARPNESS = (None, 0.5, 1.0)  # first-guess powers tried; None: the previous shot is not used
FOLLOW_COUNT = 1.0  # added to every count of "type b follows type a" (unseen pairs stay possible)


@dataclass(frozen=True)
class Fitted:
    """Both models' parts trained on some clips, settings not chosen yet."""

    final: tuple  # (BoostedTrees, LinearModel)
    provisional: tuple
    follows: np.ndarray  # (K, K) P(type | previous type), in the models' class order

    def model(self, final: bool, mix: float, sharpness: float | None = None) -> ShotModel:
        trees, linear = self.final if final else self.provisional
        if final or sharpness is None:
            return ShotModel(trees, linear, mix)
        return ShotModel(trees, linear, mix, self.follows, sharpness)


class Fits:
    """Models trained without some matches, each trained once (the nested choices need models
    without every pair of matches)."""

    def __init__(self, clips: list[Clip], data: Data, rates: tuple[Rate, ...] = TRAIN_RATES):
        self.clips, self.data, self.rates = clips, data, rates
        self._fitted: dict[frozenset[str], Fitted] = {}

    def without(self, matches: Iterable[str]) -> Fitted:
        key = frozenset(matches)
        if key not in self._fitted:
            train = [c for c in self.clips if c.match not in key]
            parts = []
            for final in (True, False):
                x, y = _rows(train, self.data, self.rates, final)
                trees = export_boosted(fit(x, y), FEATURE_NAMES, tuple(sorted(set(y))))
                parts.append((trees, fit_linear(x, y)))
            rallies = [self.data[c.key, self.rates[0]].types for c in train]
            self._fitted[key] = Fitted(*parts, follows=follows(rallies, parts[0][0].classes))
        return self._fitted[key]


def follows(rallies: list[list[str]], classes: tuple[str, ...]) -> np.ndarray:
    """P(type | the rally's previous type) over the labelled rallies' types, with
    FOLLOW_COUNT added to every pair."""
    index = {t: k for k, t in enumerate(classes)}
    counts = np.full((len(classes), len(classes)), FOLLOW_COUNT)
    for types in rallies:
        for a, b in zip(types[:-1], types[1:]):
            if a in index and b in index:
                counts[index[a], index[b]] += 1
    return counts / counts.sum(axis=1, keepdims=True)


def typed(settled: ShotModel, first: ShotModel, samples: ShotSamples) -> tuple[list, list]:
    """A rally's strokes typed once the next hit is known, and as first announced (with the
    previous stroke's settled probabilities, as the analyzer has them then)."""
    final = settled.predict_proba(samples.final)
    provisional = first.predict_proba(samples.provisional)
    first_guess = [
        first.after(provisional[k], final[k - 1] if k > 0 else None) for k in range(len(final))
    ]
    return (
        [settled.classes[int(np.argmax(p))] for p in final],
        [first.classes[int(np.argmax(p))] for p in first_guess],
    )


@dataclass(frozen=True)
class Settings:
    mix_final: float
    mix_provisional: float
    sharpness: float | None


def choose(fits: Fits, clips: list[Clip], excluded: frozenset[str] = frozenset()) -> Settings:
    """The settings that type the matches of `clips` best, each match typed by models trained
    on the others (and without the `excluded` ones)."""
    held_out = []  # (models trained without the match, its samples at every rate)
    for match in sorted({c.match for c in clips}):
        fitted = fits.without(excluded | {match})
        samples = [fits.data[c.key, r] for c in clips if c.match == match for r in fits.rates]
        held_out.append((fitted, samples))

    def correct(mix_final: float, mix_provisional: float, sharpness, final: bool) -> int:
        right = 0
        for fitted, samples in held_out:
            settled = fitted.model(True, mix_final)
            first = fitted.model(False, mix_provisional, sharpness)
            for s in samples:
                guesses = typed(settled, first, s)[0 if final else 1]
                right += sum(g == t for g, t in zip(guesses, s.types))
        return right

    # Ties go to the smaller share of the linear model and to not using the previous shot.
    mix_final = max(MIXES, key=lambda m: (correct(m, 0.0, None, True), -m))
    options = [(m, s) for m in MIXES for s in SHARPNESS]
    mix_provisional, sharpness = max(
        options, key=lambda o: correct(mix_final, o[0], o[1], final=False)
    )
    return Settings(mix_final, mix_provisional, sharpness)


def models(fits: Fits, clips: list[Clip], held_out: frozenset[str] = frozenset()):
    """(`shots`, `shots_open`) trained on `clips` without the `held_out` matches, their
    settings chosen on those clips alone."""
    train = [c for c in clips if c.match not in held_out]
    settings = choose(fits, train, held_out)
    fitted = fits.without(held_out)
    return (
        fitted.model(True, settings.mix_final),
        fitted.model(False, settings.mix_provisional, settings.sharpness),
    )


def fold_models(clips: list[Clip], fits: Fits) -> dict[str, tuple[ShotModel, ShotModel]]:
    """For each match, (`shots`, `shots_open`) trained and set without it."""
    return {match: models(fits, clips, frozenset({match})) for match, _, _ in match_folds(clips)}


@dataclass(frozen=True)
class TypeScores:
    final: dict  # type_scores once the next hit is known
    provisional: dict  # type_scores as first announced


def held_out_scores(
    clips: list[Clip], data: Data, rates: tuple[Rate, ...] = TRAIN_RATES, fits: Fits | None = None
) -> dict[Rate, TypeScores]:
    """Shot-type scores at the labelled hits, each match typed by models trained and set
    without it, per input rate."""
    fits = fits or Fits(clips, data, rates)
    truth: dict[Rate, list[str]] = {r: [] for r in rates}
    final: dict[Rate, list[str]] = {r: [] for r in rates}
    provisional: dict[Rate, list[str]] = {r: [] for r in rates}
    for match, (settled, first) in fold_models(clips, fits).items():
        for c in clips:
            if c.match != match:
                continue
            for r in rates:
                samples = data[c.key, r]
                guesses = typed(settled, first, samples)
                truth[r] += samples.types
                final[r] += guesses[0]
                provisional[r] += guesses[1]
    return {
        r: TypeScores(type_scores(truth[r], final[r]), type_scores(truth[r], provisional[r]))
        for r in rates
    }
