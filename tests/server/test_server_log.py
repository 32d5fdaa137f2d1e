"""What the server writes to its log: "serving on" once it really serves, and ICE
connectivity checks only when debugging."""

from __future__ import annotations

import asyncio
import logging
import signal

import aioice
import pytest

from server.logs import setup_logging
from tests.server.server_process import free_port, spawn_server


def test_serving_on_is_said_after_the_migrations(tmp_path):
    server, log_path = spawn_server(tmp_path, free_port())
    try:
        for _ in range(600):
            if "serving on" in log_path.read_text() or server.poll() is not None:
                break
            asyncio.run(asyncio.sleep(0.05))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    lines = log_path.read_text().splitlines()
    serving = [i for i, line in enumerate(lines) if "serving on" in line]
    migrations = [i for i, line in enumerate(lines) if "Running upgrade" in line]
    assert len(serving) == 1 and migrations, "\n".join(lines)
    assert serving[0] > max(migrations)


async def _connect_loopback_pair() -> None:
    """Two real ICE agents on loopback, checked and connected."""
    a = aioice.Connection(ice_controlling=True, components=1, use_ipv6=False)
    b = aioice.Connection(ice_controlling=False, components=1, use_ipv6=False)
    try:
        await asyncio.gather(a.gather_candidates(), b.gather_candidates())
        for mine, theirs in ((a, b), (b, a)):
            for candidate in theirs.local_candidates:
                await mine.add_remote_candidate(candidate)
            await mine.add_remote_candidate(None)
            mine.remote_username = theirs.local_username
            mine.remote_password = theirs.local_password
        await asyncio.wait_for(asyncio.gather(a.connect(), b.connect()), 20)
    finally:
        await asyncio.gather(a.close(), b.close())


@pytest.mark.parametrize(("level", "shown"), [("INFO", False), ("DEBUG", True)])
async def test_ice_checks_are_logged_only_when_debugging(level, shown):
    records: list[logging.LogRecord] = []
    root = logging.getLogger()
    saved = root.handlers[:], root.level, logging.getLogger("aioice").level
    try:
        setup_logging(level)
        collector = logging.Handler()
        collector.emit = records.append
        root.addHandler(collector)
        await _connect_loopback_pair()
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
        logging.getLogger("aioice").setLevel(saved[2])
    checks = [r for r in records if r.name.startswith("aioice") and "Check" in r.getMessage()]
    assert bool(checks) == shown
