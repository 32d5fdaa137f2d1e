"""Shared fixtures: the labelled data folder beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.server.server_process import free_port
from tools.dataset import data_dir

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, reason: str) -> None:
    """Skips a test whose prerequisite is missing, except in CI where it is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"missing in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = data_dir()
    require(root.is_dir(), f"labelled data not found at {root}")
    return root


@pytest.fixture(scope="session")
def moto_endpoint():
    """A real S3 endpoint over HTTP (moto's server) on a free loopback port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL database for the tests: $TEST_DATABASE_URL, or a throw-away server started
    here from the installed binaries (as the postgres user when running as root)."""
    import glob
    import shutil
    import subprocess
    import tempfile
    import time

    if os.environ.get("TEST_DATABASE_URL"):
        yield os.environ["TEST_DATABASE_URL"]
        return
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb")]
    require(bool(found[-1]), "PostgreSQL server binaries (Debian package postgresql)")
    bin_dir = Path(found[-1]).parent
    # Not under pytest's temp folder: the postgres user cannot enter root's.
    root = Path(tempfile.mkdtemp(prefix="badminton-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    port = free_port()
    data = root / "data"
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "test", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    log = open(root / "server.log", "wb")  # noqa: SIM115  (open while the server runs)
    server = subprocess.Popen(
        [
            *as_user,
            str(bin_dir / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(root),
            "-h",
            "127.0.0.1",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(100):
            ready = subprocess.run(
                [str(bin_dir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                break
            time.sleep(0.1)
        subprocess.run(
            [
                str(bin_dir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "test",
                "badminton",
            ],
            check=True,
            capture_output=True,
        )
        yield f"postgresql+asyncpg://test@127.0.0.1:{port}/badminton"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url():
    """A Redis server for the tests: $TEST_REDIS_URL, or a throw-away `redis-server` started
    here on a free loopback port, keeping nothing on disk."""
    import shutil
    import socket
    import subprocess
    import tempfile
    import time

    if os.environ.get("TEST_REDIS_URL"):
        yield os.environ["TEST_REDIS_URL"]
        return
    binary = shutil.which("redis-server")
    require(binary is not None, "redis-server (Debian package redis-server)")
    root = Path(tempfile.mkdtemp(prefix="badminton-redis-"))
    port = free_port()
    log = open(root / "server.log", "wb")  # noqa: SIM115  (open while the server runs)
    server = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(root),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
        shutil.rmtree(root, ignore_errors=True)
