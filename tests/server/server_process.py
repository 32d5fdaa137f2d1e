"""A real `badminton serve` process for tests that need one (its log, its start-up)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_server(
    folder: Path, port: int, settings: dict[str, str] | None = None
) -> tuple[subprocess.Popen, Path]:
    """Starts the server at INFO on `port` with its data in `folder` (and more `settings` in
    its environment); returns the process and the file its output goes to."""
    log_path = folder / "server.log"
    env = {**os.environ, "DATA_DIR": str(folder / "data"), "LOG_LEVEL": "INFO", **(settings or {})}
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    return server, log_path
