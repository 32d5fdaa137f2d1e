"""One analysis job in its own process:
`python -m server.job_worker VIDEO COURT_JSON OUT FPS [--no-playable-copy]`.

COURT_JSON `null` means no corners were given: the court is first found on a few frames of
the video, and the report's `court` says which corners were used and that they were detected.

The server starts one of these per job, so a crash, a leak or a stuck decoder costs one job,
never the server, and the memory of a long match is returned when the process ends. After
the analysis, a video browsers cannot play (not H.264) gets a playable copy in OUT (unless
`--no-playable-copy`: the job has one already); both steps count in the progress. It talks
back on stdout, one JSON object per line: `{"progress": 0.42}` while it runs, then
`{"done": true, "summary": {...}, "playable": "playable.mp4" or null, "court": {...}}` or
`{"error": "...", "bad_input": true}`.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import signal
import sys
import time
from pathlib import Path

from server.cli import silence_native_stderr

EXIT_BAD_INPUT = 2
PROGRESS_EVERY_S = 1.0
PLAYABLE_NAME = "playable.mp4"
NO_COURT = "no badminton court found: mark the four corners on the report page and analyse again"
# What the copy costs next to the analysis (at 15 poses a second), per frame of a 720p source:
# measured 0.25 on 720p MPEG-4 Part 2 clips; a bigger source costs more to decode and scale
# (0.5 for 1080p HEVC). It splits the progress between the two steps, so that the time-left
# estimate holds through both.
COPY_COST_720P = 0.25
COPY_COST_EXPONENT = 0.8
PR_SET_PDEATHSIG = 1  # prctl(2)


def emit(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def copy_share(width: int, height: int) -> float:
    """The part of the job's progress that the playable copy of a `width` x `height` video
    takes."""
    cost = COPY_COST_720P * (width * height / (1280 * 720)) ** COPY_COST_EXPONENT
    return cost / (1.0 + cost)


def die_with_parent() -> None:
    """Ends this process when the one that started it dies, even by SIGKILL (Linux): its job
    runs again on another worker, and an orphan would only take that run's CPU."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m server.job_worker")
    parser.add_argument("video", type=Path)
    parser.add_argument("court", type=json.loads)
    parser.add_argument("out", type=Path)
    parser.add_argument("fps", type=float)
    parser.add_argument("--no-playable-copy", dest="copy", action="store_false")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    die_with_parent()
    silence_native_stderr()
    import av

    from analysis.court import CORNER_NAMES, CourtError
    from analysis.court_video import CourtNotFound
    from analysis.playable import is_browser_playable, make_playable
    from analysis.video import VideoError, probe
    from analysis.video_analyzer import VideoAnalyzer, write_outputs

    last = 0.0

    def progress(fraction: float) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY_S or fraction >= 1.0:
            last = now
            emit({"progress": round(fraction, 4)})

    try:
        info = probe(args.video)
        copy = args.copy and not is_browser_playable(info)
        share = copy_share(info.width, info.height) if copy else 0.0
        analyzer = VideoAnalyzer(
            args.video,
            args.court,  # None: found on a few frames first
            args.fps,
            progress=lambda fraction: progress(fraction * (1.0 - share)),
        )
        report = analyzer.run()
        write_outputs(report, args.out)
    except CourtNotFound:
        emit({"error": NO_COURT, "bad_input": True})
        return EXIT_BAD_INPUT
    except (VideoError, CourtError, ValueError) as exc:
        emit({"error": str(exc), "bad_input": True})
        return EXIT_BAD_INPUT
    playable = None
    if copy:
        # The analysis is done and stays so: a copy that fails leaves the original to watch.
        try:
            make_playable(
                info,
                args.out / PLAYABLE_NAME,
                progress=lambda fraction: progress(1.0 - share + fraction * share),
            )
            playable = PLAYABLE_NAME
        except (VideoError, av.error.FFmpegError) as exc:
            print(f"no playable copy: {exc}", file=sys.stderr)
    emit(
        {
            "done": True,
            "summary": report["summary"],
            "playable": playable,
            "court": {name: report["court"][name] for name in CORNER_NAMES},
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
