"""Caches the trackers' raw output per labelled clip, for training and fast experiments.

Players (MediaPipe, slow) and the shuttle (fast) are cached apart, in
`.cache/tracks/NNNNN_players.npz` and `NNNNN_shuttle.npz`, so a change to the shuttle tracker
needs only a quick re-run. Both are recorded as the analyzer gets them: players at the pose
rate, the shuttle on every frame with the player boxes of the previous pose frame.

    python -m tools.track_cache [--part players|shuttle|all] [--clips 00001,00002]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from analysis.court import Court
from analysis.pose import Pose
from analysis.shuttle import ShuttleTracker
from analysis.trackers import SIDES, CourtTrackers
from analysis.video import iter_frames, probe
from tools.dataset import REPO_ROOT, Clip, aicup_clips, data_dir

CACHE_DIR = REPO_ROOT / ".cache" / "tracks"


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


def cache_shuttle(clip: Clip, out_dir: Path = CACHE_DIR) -> Path:
    players = load_part(clip.name, "players", out_dir)
    info = probe(clip.video)
    court = Court.from_mapping(clip.corners, (info.width, info.height))
    tracker = ShuttleTracker((info.width, info.height), court)
    xy = np.full((info.frames, 2), np.nan)
    interpolated = np.zeros(info.frames, dtype=bool)
    boxes: list = []

    def record(points) -> None:
        for p in points:
            if p.xy is not None and p.frame < len(xy):
                xy[p.frame] = p.xy
                interpolated[p.frame] = p.interpolated

    for frame in iter_frames(clip.video):
        if frame.index >= len(xy):
            break
        record(tracker.update(frame.image, frame.index, frame.time, ignore_boxes=boxes))
        if players["posed"][frame.index]:
            boxes = player_boxes(players, frame.index)
    record(tracker.flush())
    path = out_dir / f"{clip.name}_shuttle.npz"
    np.savez_compressed(path, shuttle=xy, interpolated=interpolated)
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


def load(name: str, out_dir: Path = CACHE_DIR) -> dict[str, np.ndarray]:
    """Players and shuttle of one clip in one dict."""
    return {**load_part(name, "players", out_dir), **load_part(name, "shuttle", out_dir)}


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
    args = parser.parse_args(argv)
    clips = aicup_clips(data_dir())
    if args.clips:
        clips = [c for c in clips if c.name in set(args.clips.split(","))]
    for clip in clips:
        started = time.monotonic()
        if args.part in ("players", "all"):
            cache_players(clip, args.analysis_fps)
        if args.part in ("shuttle", "all"):
            cache_shuttle(clip)
        print(f"{clip.name}: {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
