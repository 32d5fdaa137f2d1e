"""Caches the trackers' raw output per labelled clip, for training and fast experiments.

Players (MediaPipe, slow) and the shuttle (fast) are cached apart, in
`.cache/tracks/NNNNN_players.npz` and `NNNNN_shuttle.npz`, so a change to the shuttle tracker
needs only a quick re-run. Both are recorded as the analyzer gets them: players at the pose
rate, the shuttle on every frame with the player boxes of the previous pose frame.

A live stream gives the analyzer fewer frames than the file has; the shuttle is also cached
as the tracker follows it when fed only `--stream-fps` frames a second
(`NNNNN_shuttle_10fps.npz`; frames keep their numbers in the file, `fed` marks the ones the
tracker saw). The players are not cached again per rate: the pose cache at 15 a second
stands in for them (the poses of a slower stream are at most a frame or two away).

    python -m tools.track_cache [--part players|shuttle|all] [--clips 00001,00002]
                                [--stream-fps 15,10]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import numpy as np

from analysis.court import Court
from analysis.pose import Pose
from analysis.shuttle import ShuttleTracker
from analysis.trackers import SIDES, CourtTrackers
from analysis.video import iter_frames, probe
from tools.dataset import REPO_ROOT, Clip, aicup_clips, data_dir

CACHE_DIR = REPO_ROOT / ".cache" / "tracks"
STREAM_RATES = (15.0, 10.0)  # live-stream input rates the models are trained on too

_F = TypeVar("_F")


def stream_frames(frames: Iterable[_F], stream_fps: float | None) -> Iterator[tuple[_F, bool]]:
    """(frame, fed) for every frame of a file: fed are the frames a live stream at
    `stream_fps` would deliver (the first frame at or after each tick); all when None."""
    next_time = 0.0
    for frame in frames:
        fed = stream_fps is None or frame.time + 1e-6 >= next_time
        if fed and stream_fps is not None:
            next_time += 1.0 / stream_fps
        yield frame, fed


def rate_suffix(stream_fps: float | None) -> str:
    """File-name suffix of a stream rate's shuttle cache ("" for every frame of the file)."""
    return "" if stream_fps is None else f"_{stream_fps:g}fps"


def cache_players(clip: Clip, analysis_fps: float, out_dir: Path = CACHE_DIR) -> Path:
    info = probe(clip.video)
    court = Court.from_mapping(clip.corners, (info.width, info.height))
    n = info.frames
    arrays = {"times": np.full(n, np.nan), "posed": np.zeros(n, dtype=bool)}
    for side in SIDES:
        arrays[f"{side}_landmarks"] = np.full((n, 33, 3), np.nan)
        arrays[f"{side}_court_xy"] = np.full((n, 2), np.nan)
        arrays[f"{side}_foot_px"] = np.full((n, 2), np.nan)
        arrays[f"{side}_feet_xy"] = np.full((n, 2, 2), np.nan)
    # Only the players are wanted here: skip the shuttle tracker's work.
    trackers = CourtTrackers(court, (info.width, info.height), analysis_fps, _NoShuttle())
    try:
        for frame in iter_frames(clip.video):
            if frame.index >= n:
                break
            arrays["times"][frame.index] = frame.time
            tracked = trackers.update(frame.image, frame.index, frame.time)
            if tracked.players is None:
                continue
            arrays["posed"][frame.index] = True
            for side, obs in tracked.players.items():
                if obs is None:
                    continue
                arrays[f"{side}_court_xy"][frame.index] = obs.court_xy
                arrays[f"{side}_foot_px"][frame.index] = obs.foot_px
                if obs.feet_xy is not None:
                    arrays[f"{side}_feet_xy"][frame.index] = obs.feet_xy
                if obs.pose is not None:
                    arrays[f"{side}_landmarks"][frame.index, :, :2] = obs.pose.landmarks
                    arrays[f"{side}_landmarks"][frame.index, :, 2] = obs.pose.visibility
    finally:
        trackers.close()
    path = out_dir / f"{clip.name}_players.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def cache_shuttle(clip: Clip, stream_fps: float | None = None, out_dir: Path = CACHE_DIR) -> Path:
    """The shuttle track of a clip fed at `stream_fps` (every frame when None)."""
    players = load_part(clip.name, "players", out_dir)
    info = probe(clip.video)
    court = Court.from_mapping(clip.corners, (info.width, info.height))
    tracker = ShuttleTracker((info.width, info.height), court)
    xy = np.full((info.frames, 2), np.nan)
    interpolated = np.zeros(info.frames, dtype=bool)
    fed_mask = np.zeros(info.frames, dtype=bool)
    boxes: list = []

    def record(points) -> None:
        for p in points:
            if p.xy is not None and p.frame < len(xy):
                xy[p.frame] = p.xy
                interpolated[p.frame] = p.interpolated

    for frame, fed in stream_frames(iter_frames(clip.video), stream_fps):
        if frame.index >= len(xy):
            break
        if fed:
            fed_mask[frame.index] = True
            record(tracker.update(frame.image, frame.index, frame.time, ignore_boxes=boxes))
        if players["posed"][frame.index]:
            boxes = player_boxes(players, frame.index)
    record(tracker.flush())
    path = out_dir / f"{clip.name}_shuttle{rate_suffix(stream_fps)}.npz"
    np.savez_compressed(path, shuttle=xy, interpolated=interpolated, fed=fed_mask)
    return path


def player_boxes(players: dict, frame: int) -> list[tuple[float, float, float, float]]:
    boxes = []
    for side in SIDES:
        lm = players[f"{side}_landmarks"][frame]
        if not np.isnan(lm[0, 0]):
            boxes.append(Pose(lm[:, :2].copy(), lm[:, 2].copy()).box())
    return boxes


def load_part(name: str, part: str, out_dir: Path = CACHE_DIR) -> dict[str, np.ndarray]:
    with np.load(out_dir / f"{name}_{part}.npz") as data:
        return {k: data[k] for k in data.files}


def load(
    name: str, stream_fps: float | None = None, out_dir: Path = CACHE_DIR
) -> dict[str, np.ndarray]:
    """Players and shuttle of one clip in one dict, the shuttle as tracked at `stream_fps`.

    `fed` marks the frames the shuttle tracker was fed (all of them for the file's rate).
    """
    track = {
        **load_part(name, "players", out_dir),
        **load_part(name, f"shuttle{rate_suffix(stream_fps)}", out_dir),
    }
    if "fed" not in track:  # cached before stream rates were
        track["fed"] = np.ones(len(track["shuttle"]), dtype=bool)
    return track


class _NoShuttle:
    def update(self, *args, **kwargs) -> list:
        return []

    def flush(self) -> list:
        return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", default="")
    parser.add_argument("--part", choices=("players", "shuttle", "all"), default="all")
    parser.add_argument("--analysis-fps", type=float, default=15.0)
    parser.add_argument(
        "--stream-fps",
        default=",".join(f"{r:g}" for r in STREAM_RATES),
        help="comma-separated stream rates to cache the shuttle at too ('' for none)",
    )
    args = parser.parse_args(argv)
    rates = [None, *(float(r) for r in args.stream_fps.split(",") if r)]
    clips = aicup_clips(data_dir())
    if args.clips:
        clips = [c for c in clips if c.name in set(args.clips.split(","))]
    for clip in clips:
        started = time.monotonic()
        if args.part in ("players", "all"):
            cache_players(clip, args.analysis_fps)
        if args.part in ("shuttle", "all"):
            for rate in rates:
                cache_shuttle(clip, rate)
        print(f"{clip.name}: {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
