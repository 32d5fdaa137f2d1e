"""The cluster benchmark: jobs a minute through the Redis queue with 1 and 2 workers, and how
long a killed worker's job waits before it runs again.

A throw-away `redis-server`, moto's S3 server and a SQLite file stand in for the managed
services; one `badminton serve` node (JOB_WORKERS=0) takes the uploads and `badminton worker`
processes (JOB_WORKERS=1 each) run them. The same set of short clips (`BENCH_CLUSTER_JOBS`
uploads of a 5 s rally) is worked off by 1 worker and then by 2, from the first confirmed
upload to the last job done. On a 2-core machine the second worker cannot be a speed-up: one
analysis already keeps both cores busy, so the two share them and the difference is the
cost of running two. Last, a worker is killed with SIGKILL mid-job (at the default
JOB_HEARTBEAT_S) and the time until the other one starts the job again is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

from server.config import Settings
from tools.bench import Context, Result, benchmark
from tools.dataset import aicup_clips

CLIP = "00008"  # a 5 s rally
DEFAULT_JOBS = 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Services:
    """Redis, S3 and the database of one measured cluster, and its processes."""

    def __init__(self, root: Path) -> None:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per S3 request
        self.root = root
        self.processes: list[subprocess.Popen] = []
        self.clusters = 0
        port = _free_port()
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self._spawn(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(root)],
            "redis",
        )
        self.s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.s3.start()
        host, s3_port = self.s3.get_host_and_port()
        self.env = {
            "REDIS_URL": f"redis://127.0.0.1:{port}",
            "S3_ENDPOINT_URL": f"http://{host}:{s3_port}",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_REGION": "us-east-1",
            "SECRET_KEY": uuid.uuid4().hex,
            "LOG_LEVEL": "INFO",
        }

    def _spawn(self, args: list[str], name: str, **env: str) -> subprocess.Popen:
        folder = self.root / name
        folder.mkdir(parents=True)
        with (folder / "process.log").open("wb") as log:
            process = subprocess.Popen(
                args,
                env={**os.environ, "DATA_DIR": str(folder / "data"), **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def cluster_env(self, name: str) -> dict[str, str]:
        """A fresh database, bucket and Redis database (queue) for the next cluster."""
        self.clusters += 1
        return {
            **self.env,
            "REDIS_URL": f"{self.env['REDIS_URL']}/{self.clusters}",
            "DATABASE_URL": f"sqlite+aiosqlite:///{self.root / f'{name}.db'}",
            "S3_BUCKET": f"bench-{name}-{uuid.uuid4().hex[:8]}",
        }

    def badminton(self, args: list[str], name: str, env: dict[str, str]) -> subprocess.Popen:
        return self._spawn([sys.executable, "-m", "server.cli", *args], name, **env)

    def stop(self, keep: int = 1) -> None:
        """Ends every process but the first `keep` (Redis): the last cluster's."""
        for process in self.processes[keep:]:
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
        del self.processes[keep:]

    def close(self) -> None:
        self.stop(keep=0)
        self.s3.stop()


async def _node(services: Services, name: str, env: dict[str, str]) -> str:
    port = _free_port()
    process = services.badminton(["serve", "--port", str(port)], name, {**env, "JOB_WORKERS": "0"})
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession() as http:
        for _ in range(1200):
            if process.poll() is not None:
                raise RuntimeError(f"the node stopped: see {services.root / name}")
            with contextlib.suppress(aiohttp.ClientConnectionError):
                if (await http.get(f"{url}/api/v1/health")).status == 200:
                    return url
            await asyncio.sleep(0.1)
    raise RuntimeError("the node did not start")


async def _workers(
    services: Services, name: str, env: dict[str, str], count: int
) -> list[subprocess.Popen]:
    workers = [
        services.badminton(["worker"], f"{name}-worker-{i}", {**env, "JOB_WORKERS": "1"})
        for i in range(count)
    ]
    logs = [services.root / f"{name}-worker-{i}" / "process.log" for i in range(count)]
    for _ in range(1200):  # until each one listens on the queue
        if all("Worker starting" in log.read_text(errors="replace") for log in logs):
            return workers
        await asyncio.sleep(0.1)
    raise RuntimeError("the workers did not start")


class Client:
    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http, self.base, self.headers = http, base, {}

    async def call(self, method: str, path: str, **kwargs) -> dict:
        async with self.http.request(
            method, self.base + path, headers=self.headers, **kwargs
        ) as response:
            body = await response.json()
            if response.status >= 400:
                raise RuntimeError(f"{method} {path}: {response.status} {body}")
            return body

    async def sign_up(self) -> None:
        body = await self.call(
            "POST",
            "/api/v1/auth/register",
            json={"email": "bench@example.com", "password": "bench password 1"},
        )
        self.headers = {"Authorization": f"Bearer {body['token']}"}

    async def upload(self, data: bytes, court: dict) -> str:
        ticket = await self.call(
            "POST",
            "/api/v1/upload/request",
            json={"filename": "rally.mp4", "content_type": "video/mp4", "size": len(data)},
        )
        async with self.http.put(ticket["upload_url"], data=data, headers=ticket["headers"]) as r:
            if r.status != 200:
                raise RuntimeError(f"upload: {r.status}")
        await self.call("POST", f"/api/v1/upload/confirm/{ticket['job_id']}", json={"court": court})
        return ticket["job_id"]

    async def job(self, job_id: str) -> dict:
        return await self.call("GET", f"/api/v1/jobs/{job_id}")


async def _throughput(services: Services, data: bytes, court: dict, jobs: int, workers: int):
    name = f"w{workers}"
    env = services.cluster_env(name)
    url = await _node(services, f"{name}-node", env)
    await _workers(services, name, env, workers)
    async with aiohttp.ClientSession() as http:
        client = Client(http, url)
        await client.sign_up()
        started = time.perf_counter()
        ids = [await client.upload(data, court) for _ in range(jobs)]
        pending = set(ids)
        while pending:
            for job_id in list(pending):
                job = await client.job(job_id)
                if job["status"] == "failed":
                    raise RuntimeError(f"job failed: {job['error']}")
                if job["status"] == "done":
                    pending.discard(job_id)
            await asyncio.sleep(0.2)
        return time.perf_counter() - started


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


async def _takeover(services: Services, data: bytes, court: dict) -> float:
    """Seconds from a worker's SIGKILL mid-job to the job's next start on the other."""
    env = services.cluster_env("takeover")
    url = await _node(services, "takeover-node", env)
    workers = await _workers(services, "takeover", env, 2)
    async with aiohttp.ClientSession() as http:
        client = Client(http, url)
        await client.sign_up()
        job_id = await client.upload(data, court)
        while True:
            job = await client.job(job_id)
            running = [w for w in workers if _children(w.pid)]
            if job["status"] == "running" and job["progress"] > 0 and running:
                break
            await asyncio.sleep(0.1)
        first_start = job["started_at"]
        running[0].send_signal(signal.SIGKILL)
        killed = time.perf_counter()
        running[0].wait()
        while True:
            job = await client.job(job_id)
            if job["status"] == "running" and job["started_at"] != first_start:
                return time.perf_counter() - killed
            if job["status"] in ("done", "failed"):
                raise RuntimeError(f"the job ended without a second start: {job}")
            await asyncio.sleep(0.1)


async def _run(ctx: Context, jobs: int) -> list[Result]:
    clip = next(c for c in aicup_clips(ctx.clip.video.parents[2]) if c.name == CLIP)
    data = clip.video.read_bytes()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        services = Services(Path(tmp))
        try:
            rates = {}
            for workers in (1, 2):
                wall = await _throughput(services, data, clip.corners, jobs, workers)
                services.stop()
                rates[workers] = jobs / wall * 60.0
                results.append(
                    Result(
                        f"jobs_per_min_{workers}_worker{'s' if workers > 1 else ''}",
                        rates[workers],
                        "jobs/min",
                        f"{jobs} uploads of a {clip.name} rally in {wall:.0f} s",
                    )
                )
            cores = os.cpu_count() or 1
            ratio = rates[2] / rates[1]
            note = (
                f"on {cores} cores one analysis already uses them all: the second worker "
                "shows its overhead, not a speed-up"
                if cores <= 2
                else "more workers help while cores are left"
            )
            results.append(Result("two_over_one_worker", ratio, "x", note))
            takeover = await _takeover(services, data, clip.corners)
            heartbeat = Settings().job_heartbeat_s
            results.append(
                Result(
                    "worker_death_to_rerun_s",
                    takeover,
                    "s",
                    f"SIGKILL mid-job to its next start on the other worker, "
                    f"JOB_HEARTBEAT_S={heartbeat:g}",
                )
            )
        finally:
            services.close()
    return results


@benchmark("cluster")
def bench_cluster(ctx: Context) -> list[Result]:
    jobs = int(os.environ.get("BENCH_CLUSTER_JOBS", DEFAULT_JOBS))
    return asyncio.run(_run(ctx, jobs))
