"""A cluster on loopback for the tests: `badminton serve` nodes and `badminton worker` processes
sharing one fresh PostgreSQL database, one Redis database and one S3 bucket."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import subprocess
import sys
import uuid
from pathlib import Path

import aiohttp
import asyncpg

from tests.server.server_process import free_port

# Redis databases 1..15 in turn, one per cluster, so that no test sees another's queue.
_redis_databases = itertools.cycle(range(1, 16))


async def fresh_database(postgres_url: str) -> str:
    """A new, empty database on the test server; its SQLAlchemy URL."""
    name = f"cluster_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"


async def fresh_redis(redis_url: str) -> str:
    import redis.asyncio as redis

    url = redis_url.rsplit("/", 1)[0] + f"/{next(_redis_databases)}"
    client = redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
    return url


class Cluster:
    """The shared settings, and the processes started with them (all killed at the end)."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.processes: list[subprocess.Popen] = []
        self.folders: dict[int, Path] = {}  # each process's own folder, by pid
        self._count = itertools.count()

    def _spawn(self, args: list[str], name: str, **env: str) -> subprocess.Popen:
        data = self.folder / name
        data.mkdir(parents=True)
        with (data / "process.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "server.cli", *args],
                env={**os.environ, **self.env, "DATA_DIR": str(data / "data"), **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        self.folders[process.pid] = data
        return process

    async def node(self, **env: str) -> str:
        """A `badminton serve` node, once it answers; its base URL."""
        port = free_port()
        process = self._spawn(["serve", "--port", str(port)], f"node-{next(self._count)}", **env)
        url = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            for _ in range(600):
                assert process.poll() is None, "the node did not start"
                with contextlib.suppress(aiohttp.ClientConnectionError):
                    if (await http.get(f"{url}/api/v1/health")).status == 200:
                        return url
                await asyncio.sleep(0.1)
        raise AssertionError("the node did not answer")

    def worker(self, **env: str) -> subprocess.Popen:
        return self._spawn(["worker"], f"worker-{next(self._count)}", **env)

    def log(self, process: subprocess.Popen) -> str:
        return (self.folders[process.pid] / "process.log").read_text(errors="replace")

    def work_dir(self, process: subprocess.Popen) -> Path:
        """Where the process keeps the jobs it runs."""
        return self.folders[process.pid] / "data" / "work"

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


def children(process: subprocess.Popen) -> list[int]:
    """The processes `process` started and that still run (Linux)."""
    path = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    with contextlib.suppress(OSError):
        return [int(pid) for pid in path.read_text().split()]
    return []


def alive(pid: int) -> bool:
    """Running, and not a zombie waiting for its parent."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"
