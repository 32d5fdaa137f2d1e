"""Measures the shuttle tracker against the labelled rally clips.

A fed frame is a true positive when the tracker and the label both see the shuttle within
10 px of each other; a false positive when the tracker reports a point the label does not
have there (invisible, or farther than 10 px); a false negative when the label sees the
shuttle and the tracker has no point within 10 px. Every clip is fed at 30 fps (every
frame) and at 15 fps (every 2nd frame) from a single decode. "hitR" is the recall over
frames within 5 frames of a labelled hit, where the shuttle turns. The two ShuttleSet
rallies of Denmark Open 2019 (another venue, 25 fps, never used for training) follow.

    python -m tools.shuttle_eval
    python -m tools.shuttle_eval --fold-models /tmp/fold0.json /tmp/fold1.json  # held out
"""

from __future__ import annotations

import argparse
import csv
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from analysis.court import Court
from analysis.shuttle import ShuttlePoint, ShuttleTracker
from analysis.shuttle_detect import CandidateScorer, default_scorer
from analysis.video import iter_frames
from tools.dataset import aicup_clips, data_dir

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


@dataclass(frozen=True)
class LabelledClip:
    """A video with per-frame shuttle labels (visible, x, y in pixels) and hit frames."""

    name: str
    video: Path
    labels: np.ndarray
    hits: tuple[int, ...]
    corners: dict[str, list[float]]
    size: tuple[int, int] = (1280, 720)


def aicup_set(root: Path | None = None) -> list[LabelledClip]:
    return [
        LabelledClip(c.name, c.video, c.shuttle, tuple(s.frame for s in c.strokes), c.corners)
        for c in aicup_clips(root)
    ]


def denmark_set(root: Path | None = None) -> list[LabelledClip]:
    """ShuttleSet's two Denmark Open 2019 rallies (25 fps; never used for training)."""
    folder = (root or data_dir()) / "shuttleset_denmark2019"
    with (folder / "homography_matrix.csv").open(newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["id"] == "29")
    corners = {
        name: [float(row[f"{key}_x"]), float(row[f"{key}_y"])]
        for name, key in zip(
            ("far_left", "far_right", "near_right", "near_left"),
            ("upleft", "upright", "downright", "downleft"),
        )
    }
    out = []
    for name in ("00_01", "01_01"):
        with (folder / f"set_1_{name}.csv").open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        first = int(rows[0]["Frame"])
        labels = np.full((int(rows[-1]["Frame"]) - first + 1, 3), np.nan)
        labels[:, 0] = 0
        hits = []
        for r in rows:
            i = int(r["Frame"]) - first
            if r["Visibility"] == "1":
                labels[i] = (1, float(r["X"]), float(r["Y"]))
            if r["Hit"] == "True":
                hits.append(i)
        out.append(
            LabelledClip(f"dk{name}", folder / f"1_{name}.mp4", labels, tuple(hits), corners)
        )
    return out


def run_clip(clip: LabelledClip, scorer: CandidateScorer, use_court: bool) -> dict[int, Result]:
    """Feeds one decode of the clip to one tracker per step; scores each."""
    court = Court.from_mapping(clip.corners) if use_court else None
    trackers = {s: ShuttleTracker(clip.size, court, scorer=scorer) for s in STEPS}
    points: dict[int, list[ShuttlePoint]] = {s: [] for s in STEPS}
    seconds = dict.fromkeys(STEPS, 0.0)
    fed = dict.fromkeys(STEPS, 0)
    for frame in iter_frames(clip.video):
        if frame.index >= len(clip.labels):
            break
        for step, tracker in trackers.items():
            if frame.index % step:
                continue
            start = time.perf_counter()
            points[step] += tracker.update(frame.image, frame.index, frame.time)
            seconds[step] += time.perf_counter() - start
            fed[step] += 1
    hits = {f for h in clip.hits for f in range(h - HIT_WINDOW, h + HIT_WINDOW + 1)}
    out = {}
    for step, tracker in trackers.items():
        start = time.perf_counter()
        points[step] += tracker.flush()
        seconds[step] += time.perf_counter() - start
        frames = [p.frame for p in points[step]]
        if frames != sorted(set(frames)) or len(frames) != fed[step]:
            raise AssertionError(f"{clip.name}: tracker returned frames out of order or twice")
        result = score_points(points[step], clip.labels, hits)
        result.seconds, result.frames = seconds[step], fed[step]
        out[step] = result
    return out


def report(title: str, clips: list[LabelledClip], scorers: list[CandidateScorer], court: bool):
    """Prints one row per clip and the totals; clip i is scored with scorer i % n."""
    total = {s: Result() for s in STEPS}
    print(
        f"{title}\nclip    "
        + "".join(f"| every {s} frame(s): P     R     hitR  ms/f " for s in STEPS)
    )
    for i, clip in enumerate(clips):
        results = run_clip(clip, scorers[i % len(scorers)], court)
        row = f"{clip.name:8s}"
        for step in STEPS:
            total[step].add(results[step])
            row += f"|                   {_fmt(results[step])} "
        print(row, flush=True)
    print("overall " + "".join(f"|                   {_fmt(total[s])} " for s in STEPS))
    for step in STEPS:
        r = total[step]
        print(
            f"every {step} frame(s): precision {r.all.precision:.3f} recall {r.all.recall:.3f} "
            f"(tp {r.all.tp} fp {r.all.fp} fn {r.all.fn}); within {HIT_WINDOW} frames of hits: "
            f"precision {r.hits.precision:.3f} recall {r.hits.recall:.3f}; "
            f"{1000 * r.seconds / max(1, r.frames):.2f} ms/frame"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--fold-models",
        nargs="+",
        type=Path,
        help="scorers trained without fold k: AI CUP clip i uses model i %% n",
    )
    parser.add_argument("--clips", nargs="+", help="AI CUP clip names (default: all)")
    parser.add_argument("--no-court", action="store_true", help="do not give the tracker the court")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV threads (default 1)")
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)

    scorers = (
        [CandidateScorer.load(p) for p in args.fold_models]
        if args.fold_models
        else [default_scorer()]
    )
    clips = aicup_set()
    if args.clips:
        keep = [i for i, c in enumerate(clips) if c.name in args.clips]
        # Keep each clip's fold: the scorer is chosen by its index in the full list.
        scorers = [scorers[i % len(scorers)] for i in keep]
        clips = [clips[i] for i in keep]
    report("AI CUP 2023 rallies (30 fps broadcast)", clips, scorers, not args.no_court)
    print()
    report(
        "Denmark Open 2019 (25 fps, held out)", denmark_set(), [default_scorer()], not args.no_court
    )


def _fmt(r: Result) -> str:
    ms = 1000 * r.seconds / max(1, r.frames)
    return f"{r.all.precision:.3f} {r.all.recall:.3f} {r.hits.recall:.3f} {ms:4.1f}"


if __name__ == "__main__":
    main()
