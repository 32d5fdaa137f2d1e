"""A real `badminton serve` process for tests that need one (its log, its start-up)."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn_server(
    folder: Path, port: int, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, Path]:
    """Starts the server at INFO on `port` with its data in `folder` (and `env` on top of the
    environment); returns the process and the file its output goes to."""
    log_path = folder / "server.log"
    env = {**os.environ, "DATA_DIR": str(folder / "data"), "LOG_LEVEL": "INFO", **(env or {})}
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    return server, log_path


def get_json(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """GET over HTTP: the status and the JSON body (errors included)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_ready(server: subprocess.Popen, port: int, log_path: Path, timeout: float = 300) -> None:
    """Until the server's /api/v1/ready says 200; fails with its log when it exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log = log_path.read_text()
            raise AssertionError(f"the server exited ({server.returncode}):\n{log}")
        try:
            if get_json(f"http://127.0.0.1:{port}/api/v1/ready")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server was not ready within {timeout} s:\n{log_path.read_text()}")


async def started(
    folder: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, int, Path]:
    """A server started on a free port with its data in `folder` (created) and `env`, once
    it is ready: the process, its port and its log."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server, log_path = spawn_server(folder, port, env)
    await asyncio.to_thread(wait_ready, server, port, log_path)
    return server, port, log_path
