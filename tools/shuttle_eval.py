"""Measures the shuttle tracker against the labelled rally clips.

A fed frame is a true positive when the tracker and the label both see the shuttle within
10 px of each other; a false positive when the tracker reports a point the label does not
have there (invisible, or farther than 10 px); a false negative when the label sees the
shuttle and the tracker has no point within 10 px. Every clip is fed at 30 fps (every
frame) and at 15 fps (every 2nd frame) from a single decode. "hits" counts only frames
within 5 frames of a labelled hit, where the shuttle turns.

    python -m tools.shuttle_eval
    python -m tools.shuttle_eval --fold-models /tmp/fold0.json /tmp/fold1.json  # held out
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from analysis.court import Court
from analysis.shuttle import ShuttlePoint, ShuttleTracker
from analysis.shuttle_detect import CandidateScorer, default_scorer
from analysis.video import iter_frames
from tools.dataset import Clip, aicup_clips

MATCH_PX = 10.0
HIT_WINDOW = 5
STEPS = (1, 2)


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: Counts) -> None:
        self.tp, self.fp, self.fn = self.tp + other.tp, self.fp + other.fp, self.fn + other.fn

    @property
    def precision(self) -> float:
        return self.tp / max(1, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return self.tp / max(1, self.tp + self.fn)


@dataclass
class Result:
    all: Counts = field(default_factory=Counts)
    hits: Counts = field(default_factory=Counts)
    seconds: float = 0.0
    frames: int = 0

    def add(self, other: Result) -> None:
        self.all.add(other.all)
        self.hits.add(other.hits)
        self.seconds += other.seconds
        self.frames += other.frames


def score_points(points: list[ShuttlePoint], labels: np.ndarray, hits: set[int]) -> Result:
    result = Result()
    for point in points:
        visible, lx, ly = labels[point.frame]
        seen = visible == 1
        match = (
            point.xy is not None
            and seen
            and float(np.hypot(point.xy[0] - lx, point.xy[1] - ly)) <= MATCH_PX
        )
        counts = [result.all] + ([result.hits] if point.frame in hits else [])
        for c in counts:
            if match:
                c.tp += 1
                continue
            c.fp += point.xy is not None
            c.fn += bool(seen)
    return result


def run_clip(clip: Clip, scorer: CandidateScorer, use_court: bool) -> dict[int, Result]:
    """Feeds one decode of the clip to one tracker per step; scores each."""
    court = Court.from_mapping(clip.corners) if use_court else None
    trackers = {s: ShuttleTracker((1280, 720), court, scorer=scorer) for s in STEPS}
    points: dict[int, list[ShuttlePoint]] = {s: [] for s in STEPS}
    seconds = dict.fromkeys(STEPS, 0.0)
    fed = dict.fromkeys(STEPS, 0)
    for frame in iter_frames(clip.video):
        for step, tracker in trackers.items():
            if frame.index % step:
                continue
            start = time.perf_counter()
            points[step] += tracker.update(frame.image, frame.index, frame.time)
            seconds[step] += time.perf_counter() - start
            fed[step] += 1
    hits = {f for s in clip.strokes for f in range(s.frame - HIT_WINDOW, s.frame + HIT_WINDOW + 1)}
    out = {}
    for step, tracker in trackers.items():
        start = time.perf_counter()
        points[step] += tracker.flush()
        seconds[step] += time.perf_counter() - start
        frames = [p.frame for p in points[step]]
        if frames != sorted(set(frames)) or len(frames) != fed[step]:
            raise AssertionError(f"{clip.name}: tracker returned frames out of order or twice")
        result = score_points(points[step], clip.shuttle, hits)
        result.seconds, result.frames = seconds[step], fed[step]
        out[step] = result
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--fold-models",
        nargs="+",
        type=Path,
        help="scorers trained without fold k: clip i uses model i %% n",
    )
    parser.add_argument("--clips", nargs="+", help="clip names (default: all)")
    parser.add_argument("--no-court", action="store_true", help="do not give the tracker the court")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV threads (default 1)")
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)

    clips = aicup_clips()
    models = [CandidateScorer.load(p) for p in args.fold_models] if args.fold_models else None
    total = {s: Result() for s in STEPS}
    header = "clip    " + "".join(f"| {30 // s:2d} fps: P     R     hitR  ms/f " for s in STEPS)
    print(header)
    for i, clip in enumerate(clips):
        if args.clips and clip.name not in args.clips:
            continue
        scorer = models[i % len(models)] if models else default_scorer()
        results = run_clip(clip, scorer, not args.no_court)
        row = f"{clip.name}   "
        for step in STEPS:
            r = results[step]
            total[step].add(r)
            row += f"|         {_fmt(r)} "
        print(row, flush=True)
    row = "overall "
    for step in STEPS:
        row += f"|         {_fmt(total[step])} "
    print(row)
    for step in STEPS:
        r = total[step]
        print(
            f"{30 // step} fps: precision {r.all.precision:.3f} recall {r.all.recall:.3f} "
            f"(tp {r.all.tp} fp {r.all.fp} fn {r.all.fn}); within {HIT_WINDOW} frames of hits: "
            f"precision {r.hits.precision:.3f} recall {r.hits.recall:.3f}; "
            f"{1000 * r.seconds / max(1, r.frames):.2f} ms/frame"
        )


def _fmt(r: Result) -> str:
    ms = 1000 * r.seconds / max(1, r.frames)
    return f"{r.all.precision:.3f} {r.all.recall:.3f} {r.hits.recall:.3f} {ms:4.1f}"


if __name__ == "__main__":
    main()
