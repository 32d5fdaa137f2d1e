"""What the training scripts share: input rates, the frames a stream delivers, folds by match
and missing values."""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Iterator
from typing import TypeVar

import numpy as np

from analysis.frame_rate import FrameRateCap
from analysis.model import MISSING
from server.config import Settings
from tools.dataset import Clip

# An input rate: None for a file (every frame, up to the analysis's cap), else a live stream's
# frames per second.
Rate = float | None
TRAIN_RATES: tuple[Rate, ...] = (None, 15.0, 10.0)
# The shuttle scorer also learns from 5 fps frames: held out by match, its tracks then gave
# more hits at 15 and 10 fps too. The hit and shot models do not: with 5 fps they lost hits
# at 15.
SCORER_RATES: tuple[Rate, ...] = TRAIN_RATES + (5.0,)

_F = TypeVar("_F")


def parse_rates(text: str) -> tuple[Rate, ...]:
    """Rates from the command line: "file,15,10" -> (None, 15.0, 10.0)."""
    return tuple(None if r == "file" else float(r) for r in text.split(",") if r)


def rate_name(rate: Rate) -> str:
    return "file" if rate is None else f"{rate:g} fps"


def stream_frames(frames: Iterable[_F], stream_fps: Rate) -> Iterator[tuple[_F, bool]]:
    """(frame, fed) for every frame of a file: fed are the frames a live stream at
    `stream_fps` would deliver (the first frame at or after each tick); when None, the frames
    the file analysis takes (all of them, up to its cap of MAX_ANALYSIS_FPS a second)."""
    if stream_fps is None:
        cap = FrameRateCap()
        for frame in frames:
            yield frame, cap.admits(frame.time)
        return
    next_time = 0.0
    for frame in frames:
        fed = frame.time + 1e-6 >= next_time
        if fed:
            next_time += 1.0 / stream_fps
        yield frame, fed


def live_pose_fps(stream_fps: float) -> float:
    """Poses per second and player the server gives a live stream at `stream_fps` alone on a
    node, with its default settings (a file is posed 15 times a second)."""
    return Settings().live_pose_rate(stream_fps, sessions=1)


def match_folds(clips: list[Clip]) -> Iterator[tuple[str, list[Clip], list[Clip]]]:
    """(match, train, test) for each match: a match's clips are scored by models trained on
    the other matches only."""
    for match in sorted({c.match for c in clips}):
        test = [c for c in clips if c.match == match]
        yield match, [c for c in clips if c.match != match], test


def with_missing(x: np.ndarray) -> np.ndarray:
    """Features as the models take them: NaN replaced by the sentinel the trees were fit on."""
    return np.where(np.isnan(x), MISSING, x)


def parse_args(description: str | None, argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--save", action="store_true", help="train on all clips and ship it")
    default = ",".join("file" if r is None else f"{r:g}" for r in TRAIN_RATES)
    parser.add_argument(
        "--rates",
        type=parse_rates,
        default=TRAIN_RATES,
        help=f"input rates to train on: 'file' and stream frames a second (default {default})",
    )
    parser.add_argument(
        "--test-rates",
        type=parse_rates,
        default=TRAIN_RATES,
        help="input rates to print held-out scores for",
    )
    return parser.parse_args(argv)
