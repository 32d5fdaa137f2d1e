"""The court of a video file, found on a few frames spread over its start.

The detector sees past the players when it is given several frames of the same camera:
they move, the lines stay. The frames come from the first minute at most, so that a long
match is not decoded twice.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from analysis.court_detect import CourtDetection, detect_court
from analysis.video import VideoInfo, iter_frames, probe

SAMPLES = 5
SPAN_S = 60.0


def sample_frames(
    path: str | Path, count: int = SAMPLES, span_s: float = SPAN_S, info: VideoInfo | None = None
) -> list[np.ndarray]:
    """`count` frames evenly spread over the first `span_s` seconds (or the whole video)."""
    info = info or probe(path)
    last = max(min(info.frames or 1, round(span_s * (info.fps or 30.0))) - 1, 0)
    wanted = sorted({round(i * last / max(count - 1, 1)) for i in range(count)})
    frames = []
    for decoded in iter_frames(path):
        if decoded.index == wanted[len(frames)]:
            frames.append(decoded.image)
            if len(frames) == len(wanted):
                break
    return frames


def detect_video_court(path: str | Path, info: VideoInfo | None = None) -> CourtDetection:
    """The court on a few frames of the video (a refusal when there is none)."""
    return detect_court(sample_frames(path, info=info))
