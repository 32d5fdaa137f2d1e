"""The long-video benchmark: does memory stay flat over a long match?

The bench clip is looped into `BENCH_MEMORY_MINUTES` of video (10 by default: about four
minutes of analysis here) and analysed at 15 analysed frames a second, as an upload is. The
process's resident memory is sampled as the analysis goes and printed after the first minute
of video and at the end, with the growth per hour of video fitted over everything after the
first minute (when the pose model, the decoder and the heap have settled). The speed of this
long run is printed too: a second sample of the real-time factor, on 10x the video.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from analysis.video import probe
from analysis.video_analyzer import VideoAnalyzer
from tools.bench import Context, Result, benchmark, loop_video, rss_mb

DEFAULT_MINUTES = 10.0
ANALYSIS_FPS = 15.0
SETTLED_S = 60.0  # video seconds before memory counts as settled


def growth_per_hour(samples: list[tuple[float, float]]) -> float:
    """MB per hour of video: the slope of (video seconds, MB) after SETTLED_S."""
    settled = np.array([s for s in samples if s[0] >= SETTLED_S])
    if len(settled) < 2 or np.ptp(settled[:, 0]) <= 0:
        return float("nan")
    slope = np.polyfit(settled[:, 0], settled[:, 1], 1)[0]
    return float(slope * 3600.0)


@benchmark("memory")
def bench_memory(ctx: Context) -> list[Result]:
    minutes = float(os.environ.get("BENCH_MEMORY_MINUTES", DEFAULT_MINUTES))
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        video = Path(tmp) / "long.mp4"
        loops = max(1, round(minutes * 60.0 / probe(ctx.clip.video).duration))
        loop_video(ctx.clip.video, video, loops)
        duration = probe(video).duration
        samples: list[tuple[float, float]] = []

        def progress(fraction: float) -> None:
            samples.append((fraction * duration, rss_mb()))

        analyzer = VideoAnalyzer(
            video, ctx.clip.corners, analysis_fps=ANALYSIS_FPS, progress=progress
        )
        started = time.perf_counter()
        analyzer.run()
        wall = time.perf_counter() - started
    first = next((mb for t, mb in samples if t >= SETTLED_S), float("nan"))
    note = f"{duration / 60:.1f} min of video at {ANALYSIS_FPS:g} analysed frames a second"
    return [
        Result("rss_after_1_min_mb", first, "MB", note),
        Result("rss_at_end_mb", samples[-1][1] if samples else float("nan"), "MB"),
        Result(
            "rss_growth_mb_per_hour",
            growth_per_hour(samples),
            "MB/h",
            "slope after the first minute, per hour of video",
        ),
        Result("realtime_factor_long", duration / wall, "x", "the same run's speed"),
    ]
