"""One analysis job in its own process: `python -m server.job_worker VIDEO COURT_JSON OUT FPS`.

The server starts one of these per job, so a crash, a leak or a stuck decoder costs one job,
never the server, and the memory of a long match is returned when the process ends. It talks
back on stdout, one JSON object per line: `{"progress": 0.42}` while it runs, then
`{"done": true, "summary": {...}}` or `{"error": "...", "bad_input": true}`.
"""

from __future__ import annotations

import json
import sys
import time

from server.cli import silence_native_stderr

EXIT_BAD_INPUT = 2
PROGRESS_EVERY_S = 1.0


def emit(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    video, court, out, fps = argv
    silence_native_stderr()
    from analysis.court import CourtError
    from analysis.video import VideoError
    from analysis.video_analyzer import VideoAnalyzer

    last = 0.0

    def progress(fraction: float) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY_S or fraction >= 1.0:
            last = now
            emit({"progress": round(fraction, 4)})

    try:
        analyzer = VideoAnalyzer(video, json.loads(court), float(fps), progress=progress)
        report = analyzer.write(out)
    except (VideoError, CourtError, ValueError) as exc:
        emit({"error": str(exc), "bad_input": True})
        return EXIT_BAD_INPUT
    emit({"done": True, "summary": report["summary"]})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
