"""Measures the player trackers on the labelled broadcast rallies.

For every clip: how often each player is found at the labelled hit frames, and how far (in
court metres) the tracked foot position lies from the labelled foot pixel.

    python -m tools.foot_error [--data DIR] [--clips 00001,00004] [--step 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from analysis.court import Court
from analysis.players import PlayerObservation, PlayerTracker
from tools.dataset import Clip, Stroke, aicup_clips, data_dir


@dataclass
class ClipResult:
    clip: str
    hits: int = 0
    found: dict[str, int] = field(default_factory=lambda: {"near": 0, "far": 0})
    hitter_found: int = 0
    errors: dict[str, list[float]] = field(default_factory=lambda: {"near": [], "far": []})
    # The nearer of the two feet to the label: what pose alone can reach, since labels mark
    # one foot rather than the point between the feet.
    foot_errors: dict[str, list[float]] = field(default_factory=lambda: {"near": [], "far": []})
    frames: int = 0
    pose_calls: int = 0
    seconds: float = 0.0
    # side -> analysed frame -> what the tracker reported
    tracks: dict[str, dict[int, PlayerObservation | None]] = field(
        default_factory=lambda: {"near": {}, "far": {}}
    )


def label_feet(stroke: Stroke) -> dict[str, np.ndarray]:
    """Labelled foot pixels at a hit, by side."""
    hitter, defender = np.array(stroke.hitter_px), np.array(stroke.defender_px)
    other = "far" if stroke.player == "near" else "near"
    return {stroke.player: hitter, other: defender}


def iter_frames(
    video: Path, step: int, last_frame: int | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Every `step`-th frame (index, BGR image), up to `last_frame` included."""
    cap = cv2.VideoCapture(str(video))
    try:
        index = 0
        while last_frame is None or index <= last_frame:
            if index % step == 0:
                ok, frame = cap.read()
                if not ok:
                    return
                yield index, frame
            elif not cap.grab():
                return
            index += 1
    finally:
        cap.release()


def run_clip(
    clip: Clip,
    *,
    step: int = 2,
    last_frame: int | None = None,
    frame_size: tuple[int, int] = (1280, 720),
) -> ClipResult:
    """Runs both trackers over a clip (every `step`-th frame, up to `last_frame`) and scores
    them at the labelled hits."""
    court = Court.from_mapping(clip.corners, frame_size)
    fps = cv2.VideoCapture(str(clip.video)).get(cv2.CAP_PROP_FPS) or 30.0
    strokes = [s for s in clip.strokes if last_frame is None or s.frame <= last_frame]
    result = ClipResult(clip.name)
    tracks = result.tracks
    trackers = {side: PlayerTracker(court, side, frame_size) for side in tracks}
    try:
        start = time.perf_counter()
        for index, frame in iter_frames(clip.video, step, last_frame):
            result.frames += 1
            for side, tracker in trackers.items():
                tracks[side][index] = tracker.update(frame, index, index / fps)
        result.seconds = time.perf_counter() - start
        result.pose_calls = sum(t.pose_calls for t in trackers.values())
    finally:
        for tracker in trackers.values():
            tracker.close()
    for stroke in strokes:
        _score(result, court, stroke, tracks, step)
    return result


def _score(
    result: ClipResult,
    court: Court,
    stroke: Stroke,
    tracks: dict[str, dict[int, PlayerObservation | None]],
    step: int,
) -> None:
    # The analysed frame nearest the hit.
    nearest = int(round(stroke.frame / step)) * step
    result.hits += 1
    feet = label_feet(stroke)
    for side in ("near", "far"):
        obs = tracks[side].get(nearest)
        if obs is None:
            continue
        result.found[side] += 1
        result.hitter_found += side == stroke.player
        truth = court.image_to_court(feet[side])
        result.errors[side].append(float(np.linalg.norm(obs.court_xy - truth)))
        if obs.feet_xy is not None:
            nearest_foot = np.linalg.norm(obs.feet_xy - truth, axis=1).min()
            result.foot_errors[side].append(float(nearest_foot))


def _stats(values: Sequence[float]) -> str:
    if not values:
        return "   -    -  "
    return f"{np.median(values):4.2f} {np.percentile(values, 90):4.2f}"


def _print_table(results: list[ClipResult], fps: float) -> None:
    print("Found: share of labelled hits with the player found. Error: metres from the labelled")
    print("foot to the point between the feet, median and 90th percentile; (foot): to the nearer")
    print("of the two feet, since labels mark one foot. Speed: both players on one thread.")
    print(
        "clip   hits hitter  near   far   near m50 p90 (foot)    far m50 p90 (foot)  "
        "poses/frame poses/s x real time"
    )
    for r in [*results, _total(results)]:
        rate = {side: r.found[side] / max(r.hits, 1) for side in ("near", "far")}
        speed = r.frames / fps / max(r.seconds, 1e-9)
        print(
            f"{r.clip:6s} {r.hits:4d} {r.hitter_found / max(r.hits, 1):6.1%} {rate['near']:5.0%} "
            f"{rate['far']:5.0%}   {_stats(r.errors['near'])} ({_stats(r.foot_errors['near'])})"
            f"  {_stats(r.errors['far'])} ({_stats(r.foot_errors['far'])})"
            f"  {r.pose_calls / max(r.frames, 1):6.2f} {r.pose_calls / max(r.seconds, 1e-9):8.1f}"
            f" {speed:6.2f}"
        )


def _total(results: list[ClipResult]) -> ClipResult:
    total = ClipResult("all")
    for r in results:
        total.hits += r.hits
        total.hitter_found += r.hitter_found
        total.frames += r.frames
        total.pose_calls += r.pose_calls
        total.seconds += r.seconds
        for side in ("near", "far"):
            total.found[side] += r.found[side]
            total.errors[side] += r.errors[side]
            total.foot_errors[side] += r.foot_errors[side]
    return total


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=data_dir(), help="shared test material")
    parser.add_argument("--clips", default="", help="comma-separated clip ids (default: all)")
    parser.add_argument("--step", type=int, default=2, help="analyse every n-th frame")
    args = parser.parse_args(argv)
    clips = {clip.name: clip for clip in aicup_clips(args.data)}
    if not clips:
        parser.error(f"no clips found under {args.data}")
    names = [c.strip() for c in args.clips.split(",") if c.strip()] or sorted(clips)
    unknown = [name for name in names if name not in clips]
    if unknown:
        parser.error(f"unknown clip(s): {', '.join(unknown)}")
    results = []
    for name in names:
        results.append(run_clip(clips[name], step=args.step))
        print(f"{name} done", file=sys.stderr, flush=True)
    _print_table(results, 30.0 / args.step)
    return 0


if __name__ == "__main__":
    sys.exit(main())
