"""Shuttle tracker quality per source, held out by match, at file input and 15 and 10 fps.

A fed frame is a true positive when the tracker and the label both see the shuttle within
10 px (of a 1280-px-wide frame) of each other; a false positive when the tracker reports a
point the label does not have there (invisible, or farther); a false negative when the label
sees the shuttle and the tracker has no point near it. "hit R" is the recall over frames
within 5 frames of a labelled hit, where the shuttle turns. Every clip is tracked with the
scorer trained without its match (`tools.shuttle_train.fold_scorer`); the Denmark rallies
are never trained on.

    python -m tools.shuttle_eval [--sources aicup,denmark] [--shipped]
"""

from __future__ import annotations

import argparse
import sys
from typing import NamedTuple

import numpy as np

from analysis.shuttle import ShuttlePoint
from analysis.shuttle_detect import default_scorer, work_scale
from analysis.video import probe
from tools.dataset import Clip, shuttle_sources
from tools.scoring import Counts
from tools.shuttle_train import fold_scorer
from tools.track_cache import shuttle
from tools.training import TRAIN_RATES, Rate, rate_name

MATCH_PX = 10.0
HIT_WINDOW = 5


class TrackScores(NamedTuple):
    all: Counts  # every fed frame
    hits: Counts  # fed frames within HIT_WINDOW of a labelled hit


def score_track(
    xy: np.ndarray, fed: np.ndarray, labels: np.ndarray, hits: set[int], radius: float = MATCH_PX
) -> TrackScores:
    """The counts of a track (frames, 2; NaN where unseen) against (frames, 3) labels."""
    n = min(len(xy), len(labels))
    frames = np.flatnonzero(fed[:n])
    seen = labels[frames, 0] == 1
    found = ~np.isnan(xy[frames, 0])
    dist = np.hypot(*(np.nan_to_num(xy[frames] - labels[frames, 1:3], nan=1e9)).T)
    match = seen & found & (dist <= radius)
    near_hit = np.isin(frames, list(hits))

    def counts(sel: np.ndarray) -> Counts:
        tp = int((match & sel).sum())
        return Counts(tp, int((found & sel).sum()) - tp, int((seen & sel).sum()) - tp)

    return TrackScores(counts(np.ones(len(frames), dtype=bool)), counts(near_hit))


def score_points(points: list[ShuttlePoint], labels: np.ndarray, hits: set[int]) -> TrackScores:
    """The counts of tracker points (frames fed in any order) against (frames, 3) labels."""
    xy = np.full((len(labels), 2), np.nan)
    fed = np.zeros(len(labels), dtype=bool)
    for p in points:
        if p.frame < len(labels):
            fed[p.frame] = True
            if p.xy is not None:
                xy[p.frame] = p.xy
    return score_track(xy, fed, labels, hits)


def clip_scores(clip: Clip, rate: Rate, shipped: bool = False) -> TrackScores:
    scorer = default_scorer() if shipped else fold_scorer(clip.match)
    track = shuttle(clip, rate, scorer)
    info = probe(clip.video)
    hits = {f for h in clip.hit_frames for f in range(h - HIT_WINDOW, h + HIT_WINDOW + 1)}
    radius = MATCH_PX * work_scale((info.width, info.height))
    return score_track(track["shuttle"], track["fed"], clip.shuttle, hits, radius)


def source_table(sources: dict[str, list[Clip]], shipped: bool = False) -> dict:
    """{source: {rate name: {"all": counts, "hits": counts}}}, printed as it goes."""
    result: dict = {}
    print(f"{'source':>11} {'clips':>5} {'rate':>7} {'P':>6} {'R':>6} {'hit R':>6} {'frames':>7}")
    for source, clips in sources.items():
        if not clips:
            continue
        result[source] = {}
        for rate in TRAIN_RATES:
            everything, at_hits = Counts(0, 0, 0), Counts(0, 0, 0)
            for clip in clips:
                a, h = clip_scores(clip, rate, shipped)
                everything, at_hits = everything + a, at_hits + h
            hit_recall = f"{at_hits.recall:6.3f}" if at_hits.tp + at_hits.fn else "     -"
            print(
                f"{source:>11} {len(clips):>5} {rate_name(rate):>7} {everything.precision:6.3f} "
                f"{everything.recall:6.3f} {hit_recall} {everything.tp + everything.fn:>7}",
                flush=True,
            )
            result[source][rate_name(rate)] = {
                "all": everything.as_dict(),
                "hits": at_hits.as_dict(),
            }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sources", default="", help="comma-separated sources (default all)")
    parser.add_argument(
        "--shipped", action="store_true", help="score the shipped scorer (in-sample but Denmark)"
    )
    args = parser.parse_args(argv)
    sources = shuttle_sources()
    if args.sources:
        sources = {k: v for k, v in sources.items() if k in args.sources.split(",")}
    what = "the shipped scorer" if args.shipped else "held out by match"
    print(f"shuttle tracking, {what} (10 px at 1280 wide):")
    source_table(sources, args.shipped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
