"""The trackers' raw output per labelled clip, cached for training and fast experiments.

Players (poses, slow) and the shuttle (fast) are cached apart, each keyed by the clip's
content, the code that tracks them and the library versions (`tools.cache`). Both are
recorded as the analyzer gets them: players at the pose rate, the shuttle on every fed frame
with the player boxes of the previous pose frame.

A live stream gives the analyzer fewer frames than the file has, so both are also tracked
as when fed only 15 or 10 frames a second (frames keep their numbers in the file, `fed`
marks the ones the trackers saw): the players posed at the server's live pose rate on the
fed frames, the pose tracker following them from one posed frame to the next as it does
live, and the shuttle with those players' boxes.

The shuttle is tracked with the scorer that never saw the clip's match
(`tools.shuttle_train.fold_scorer`): what the analyzer would do on footage of a new match.

    python -m tools.track_cache [--clips 00001,00002]   # fills the cache for the dev clips
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time

import numpy as np

from analysis.court import Court
from analysis.pose import Pose
from analysis.shuttle import ShuttleTracker
from analysis.shuttle_detect import CandidateScorer
from analysis.trackers import SIDES, CourtTrackers
from analysis.video import iter_frames, probe
from tools.cache import cached_arrays, code_digest, files_digest, key_of, library_versions
from tools.dataset import Clip, aicup_clips, denmark_clips
from tools.shuttle_train import fold_scorer
from tools.training import TRAIN_RATES, Rate, live_pose_fps, rate_name, stream_frames

POSE_FPS = 15.0
PLAYER_CODE = (
    "analysis.blazepose",
    "analysis.court",
    "analysis.players",
    "analysis.pose",
    "analysis.trackers",
    "analysis.video",
)
SHUTTLE_CODE = (
    "analysis.court",
    "analysis.frame_rate",
    "analysis.shuttle",
    "analysis.shuttle_detect",
    "analysis.shuttle_path",
    "analysis.video",
)


def players(clip: Clip, rate: Rate = None) -> dict[str, np.ndarray]:
    """Every player observation of a clip: posed POSE_FPS times a second from the file, or
    as a live stream at `rate` has them (its frames, posed at the server's live pose rate)."""
    return cached_arrays(
        "players",
        f"{clip.source}_{clip.name}",
        _players_key(clip, rate),
        lambda: _track_players(clip, rate),
    )


def _players_key(clip: Clip, rate: Rate) -> str:
    parts = [files_digest(clip.files()), code_digest(PLAYER_CODE), library_versions()]
    if rate is None:
        parts.append(POSE_FPS)
    else:
        parts += [live_pose_fps(rate), rate, inspect.getsource(stream_frames)]
    return key_of(*parts)


def _track_players(clip: Clip, rate: Rate) -> dict[str, np.ndarray]:
    info = probe(clip.video)
    size = (info.width, info.height)
    court = Court.from_mapping(clip.corners, size)
    n = info.frames
    arrays = {
        "size": np.array(size),
        "times": np.full(n, np.nan),
        "posed": np.zeros(n, dtype=bool),
    }
    for side in SIDES:
        arrays[f"{side}_landmarks"] = np.full((n, 33, 3), np.nan)
        arrays[f"{side}_court_xy"] = np.full((n, 2), np.nan)
        arrays[f"{side}_foot_px"] = np.full((n, 2), np.nan)
        arrays[f"{side}_feet_xy"] = np.full((n, 2, 2), np.nan)
    # Only the players are wanted here: skip the shuttle tracker's work.
    pose_fps = POSE_FPS if rate is None else live_pose_fps(rate)
    trackers = CourtTrackers(court, size, pose_fps, _NoShuttle())
    frames = iter_frames(clip.video)
    fed_frames = ((f, True) for f in frames) if rate is None else stream_frames(frames, rate)
    try:
        for frame, fed in fed_frames:
            if frame.index >= n:
                break
            arrays["times"][frame.index] = frame.time
            if not fed:
                continue
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
    return arrays


def shuttle(clip: Clip, rate: Rate, scorer: CandidateScorer) -> dict[str, np.ndarray]:
    """The shuttle track of a clip fed at `rate`, as `scorer` makes the tracker find it.

    Clips with a court are tracked with it and with the players' boxes, as the analyzer
    tracks them; the others without either.
    """
    parts = [files_digest(clip.files()), code_digest(SHUTTLE_CODE), library_versions(), rate]
    parts.append(inspect.getsource(stream_frames))
    parts.append(key_of(scorer.to_dict()))
    if clip.corners is not None:  # tracked with the boxes of those players
        parts.append(_players_key(clip, rate))
    return cached_arrays(
        f"shuttle_{rate_name(rate).replace(' ', '')}",
        f"{clip.source}_{clip.name}",
        key_of(*parts),
        lambda: _track_shuttle(clip, rate, scorer),
    )


def _track_shuttle(clip: Clip, rate: Rate, scorer: CandidateScorer) -> dict[str, np.ndarray]:
    info = probe(clip.video)
    size = (info.width, info.height)
    court = Court.from_mapping(clip.corners, size) if clip.corners is not None else None
    tracked = players(clip, rate) if court is not None else None
    tracker = ShuttleTracker(size, court, scorer=scorer)
    xy = np.full((info.frames, 2), np.nan)
    interpolated = np.zeros(info.frames, dtype=bool)
    fed_mask = np.zeros(info.frames, dtype=bool)
    times = np.full(info.frames, np.nan)
    boxes: list = []

    def record(points) -> None:
        for p in points:
            if p.xy is not None and p.frame < len(xy):
                xy[p.frame] = p.xy
                interpolated[p.frame] = p.interpolated

    for frame, fed in stream_frames(iter_frames(clip.video), rate):
        if frame.index >= len(xy):
            break
        times[frame.index] = frame.time
        if fed:
            fed_mask[frame.index] = True
            record(tracker.update(frame.image, frame.index, frame.time, ignore_boxes=boxes))
        if tracked is not None and tracked["posed"][frame.index]:
            boxes = player_boxes(tracked, frame.index)
    record(tracker.flush())
    return {"shuttle": xy, "interpolated": interpolated, "fed": fed_mask, "times": times}


def player_boxes(players: dict, frame: int) -> list[tuple[float, float, float, float]]:
    boxes = []
    for side in SIDES:
        lm = players[f"{side}_landmarks"][frame]
        if not np.isnan(lm[0, 0]):
            boxes.append(Pose(lm[:, :2].copy(), lm[:, 2].copy()).box())
    return boxes


def load(clip: Clip, rate: Rate, scorer: CandidateScorer | None = None) -> dict[str, np.ndarray]:
    """Players and shuttle of one clip in one dict, the shuttle as tracked at `rate` by
    `scorer` (by default the one that never saw the clip's match)."""
    scorer = scorer if scorer is not None else fold_scorer(clip.match)
    track = shuttle(clip, rate, scorer)
    return {**players(clip, rate), **track}


class _NoShuttle:
    def update(self, *args, **kwargs) -> list:
        return []

    def flush(self) -> list:
        return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", default="", help="comma-separated clip names (default all)")
    args = parser.parse_args(argv)
    clips = aicup_clips() + denmark_clips()
    if args.clips:
        clips = [c for c in clips if c.name in set(args.clips.split(","))]
    for clip in clips:
        started = time.monotonic()
        for rate in TRAIN_RATES:
            load(clip, rate)
        print(f"{clip.key}: {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
