"""Court detection on a video file: a few frames spread over a stretch of it, combined."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.court import CourtError
from analysis.court_detect import CourtDetection, detect_court
from analysis.video import iter_frames, probe


class CourtNotFound(CourtError):
    """No court could be found in the video: its corners must be given."""


FRAMES = 5  # frames combined: enough for the players to move off every line
SPAN_S = 20.0  # seconds of video they are spread over (from the start, or from `at`)


def court_frames(
    path: str | Path, at: float | None = None, count: int = FRAMES
) -> list[np.ndarray]:
    """`count` frames evenly spread over SPAN_S seconds from `at` (default: the start), or
    over the whole video when it is shorter. Raises `VideoError`."""
    info = probe(path)
    start = max(0.0, at or 0.0)
    if at is not None and start >= info.duration:
        raise ValueError(f"--at {at:g} s is past the end of the video ({info.duration:.1f} s)")
    end = min(info.duration, start + SPAN_S)
    wanted = list(np.linspace(start, end, count + 2)[1:-1]) if end > start else [start]
    frames: list[np.ndarray] = []
    last: np.ndarray | None = None
    for frame in iter_frames(path, threaded=False):
        if frame.time + 0.5 / max(info.fps, 1.0) >= wanted[len(frames)]:
            frames.append(frame.image)
            if len(frames) == len(wanted):
                break
        last = frame.image
    if not frames and last is not None:  # a video shorter than its header says
        frames.append(last)
    return frames


def detect_court_in_video(path: str | Path, at: float | None = None) -> CourtDetection:
    """The court of a video file's (still) camera; see `detect_court`."""
    return detect_court(court_frames(path, at))
