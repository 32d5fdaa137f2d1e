"""The `badminton` command: analyse a video file, run the server or a job worker."""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import numpy as np

from analysis.court import CourtError
from analysis.video import VideoError

EXIT_BAD_INPUT = 2


class ProgressBar:
    """A one-line progress bar on a terminal; silent when the output is not a terminal."""

    def __init__(self, stream: TextIO | None = None, width: int = 30) -> None:
        self.stream = stream or sys.stderr
        self.width = width
        self.enabled = self.stream.isatty()
        self.started = time.monotonic()

    def __call__(self, fraction: float) -> None:
        if not self.enabled:
            return
        filled = int(self.width * fraction)
        elapsed = time.monotonic() - self.started
        eta = elapsed / fraction - elapsed if fraction > 0.01 else 0.0
        bar = "#" * filled + "-" * (self.width - filled)
        self.stream.write(f"\r[{bar}] {fraction:6.1%}  {elapsed:5.0f}s elapsed, ~{eta:4.0f}s left")
        if fraction >= 1.0:
            self.stream.write("\n")
        self.stream.flush()


def silence_native_stderr() -> None:
    """Sends what native libraries write to file descriptor 2 (MediaPipe's graph warnings)
    to /dev/null, while Python's own sys.stderr keeps writing to the real stderr."""
    try:
        real = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:
        return
    sys.stderr = os.fdopen(real, "w", buffering=1)


def analyze(args: argparse.Namespace) -> int:
    from analysis.video_analyzer import VideoAnalyzer

    analyzer = VideoAnalyzer(args.video, args.court, args.analysis_fps, progress=ProgressBar())
    if analyzer.court_source == "detected":
        print(
            f"court detected (confidence {analyzer.court_confidence:.2f}): "
            f"--court {court_numbers(analyzer.court.corners)}"
        )
    report = analyzer.write(args.out)
    summary = report["summary"]
    print(
        f"{summary['total_shots']} shots in {summary['rallies']} rallies; "
        f"report written to {Path(args.out) / 'report.json'}"
    )
    return 0


def court(args: argparse.Namespace) -> int:
    from analysis.court_video import detect_court_in_video

    found = detect_court_in_video(args.video, args.at)
    if found.corners is None:
        raise CourtError(
            f"{found.reason} in {Path(args.video).name} (confidence {found.confidence:.2f})"
        )
    if args.json:
        print(json.dumps({"court": found.as_dict(), "confidence": found.confidence}))
    else:
        print(court_numbers(found.corners))
    return 0


def court_numbers(corners) -> str:
    """The 8 comma-separated numbers `--court` takes, far-left x,y first."""
    return ",".join(f"{float(v):.1f}" for v in np.asarray(corners).ravel())


def serve(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from server.app import run
    from server.config import Settings

    settings = Settings.from_env()
    settings = replace(settings, host=args.host or settings.host, port=args.port or settings.port)
    run(settings)
    return 0


def worker(args: argparse.Namespace) -> int:
    from server.config import Settings
    from server.worker import run

    run(Settings.from_env())
    return 0


def create_user(args: argparse.Namespace) -> int:
    import asyncio
    import getpass

    from server.accounts import Accounts, Credentials
    from server.config import Settings
    from server.db import Database
    from server.errors import ApiError

    password = args.password or os.environ.get("BADMINTON_PASSWORD")
    if not password:
        password = getpass.getpass(f"password for {args.email}: ")
    settings = Settings.from_env()

    async def create() -> str:
        db = Database(settings.database)
        try:
            await db.migrate()
            accounts = Accounts(db, settings)
            try:
                credentials = Credentials.parse({"email": args.email, "password": password})
                user = await accounts.register(credentials, is_admin=args.admin)
            finally:
                accounts.close()
            return user.id
        finally:
            await db.close()

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        user_id = asyncio.run(create())
    except ApiError as exc:
        print(f"badminton: error: {exc.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    role = "admin" if args.admin else "user"
    print(f"created {role} {args.email} ({user_id})")
    return 0


class CommandParser(argparse.ArgumentParser):
    """A command's parser that names a mistyped option before anything else: argparse on its
    own reports the missing required options first, which sends the user after the wrong
    mistake."""

    def parse_known_args(self, args=None, namespace=None):
        if self._subparsers is not None:
            return super().parse_known_args(args, namespace)  # its commands check their own
        for arg in sys.argv[1:] if args is None else args:
            if arg == "--":
                break
            if arg.startswith("--") and not self._knows(arg.split("=", 1)[0]):
                self.error(f"unknown option {arg.split('=', 1)[0]}{self._suggestion(arg)}")
        return super().parse_known_args(args, namespace)

    def _options(self) -> list[str]:
        return [s for action in self._actions for s in action.option_strings]

    def _knows(self, option: str) -> bool:
        # A unique prefix of an option is that option (argparse's abbreviations).
        return any(known.startswith(option) for known in self._options())

    def _suggestion(self, arg: str) -> str:
        close = difflib.get_close_matches(arg.split("=", 1)[0], self._options(), n=1)
        return f" (did you mean {close[0]}?)" if close else ""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="badminton", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=CommandParser)

    p = commands.add_parser("analyze", aliases=["analyse"], help="analyse a recorded match")
    p.add_argument("video", help="video file (H.264, HEVC, MPEG-4...)")
    p.add_argument(
        "--court",
        default=None,
        help="the 4 outer doubles corners in pixels: 8 comma-separated numbers (far-left x,y, "
        "far-right, near-right, near-left) or a JSON file "
        '{"far_left":[x,y],"far_right":[x,y],"near_right":[x,y],"near_left":[x,y]}; '
        "without it the court is detected",
    )
    p.add_argument("--out", required=True, help="output folder for report.json and heatmaps")
    p.add_argument(
        "--analysis-fps", type=float, default=15.0, help="poses per second analysed (default 15)"
    )
    p.set_defaults(handler=analyze)

    p = commands.add_parser("court", help="find the court's corners in a video")
    p.add_argument("video", help="video file")
    p.add_argument(
        "--at", type=float, default=None, help="look from this many seconds in (default: start)"
    )
    p.add_argument("--json", action="store_true", help="JSON with the corners and confidence")
    p.set_defaults(handler=court)

    p = commands.add_parser("serve", help="run the server")
    p.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default 8080)")
    p.set_defaults(handler=serve)

    p = commands.add_parser(
        "worker", help="run analysis jobs from the Redis queue (REDIS_URL, JOB_WORKERS at once)"
    )
    p.set_defaults(handler=worker)

    p = commands.add_parser("user", help="manage accounts")
    user_commands = p.add_subparsers(dest="user_command", required=True)
    p = user_commands.add_parser("create", help="create an account (asks for the password)")
    p.add_argument("email")
    p.add_argument("--admin", action="store_true", help="an administrator account")
    p.add_argument("--password", help="the password (default: $BADMINTON_PASSWORD, else asked for)")
    p.set_defaults(handler=create_user)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.handler is analyze:
        silence_native_stderr()
    if args.handler is court and args.at is not None and not args.at >= 0:
        parser.error("--at must be a number of seconds, 0 or more")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.handler(args)
    except (VideoError, CourtError, ValueError, OSError) as exc:
        print(f"badminton: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("badminton: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
