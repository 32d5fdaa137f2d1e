"""Liveness and readiness over HTTP: /health answers whatever else is down; /ready names the
part that does not answer (database, storage, Redis) or that the node is draining."""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from server.app import create_app
from server.context import DRAIN
from tests.conftest import require
from tests.server.server_process import free_port, spawn_server, wait_ready
from tests.server.tcp_switch import TcpSwitch
from tests.server.test_migration_lock import fresh_database

ROOT = Path(__file__).resolve().parents[2]


async def ready(client) -> tuple[int, dict]:
    response = await client.get("/api/v1/ready")
    return response.status, await response.json()


async def test_ready_when_every_part_answers(client):
    status, body = await ready(client)
    assert status == 200, body
    assert body == {"status": "ready", "checks": {"database": "ok", "storage": "ok"}}
    assert (await client.get("/api/v1/health")).status == 200


async def test_not_ready_while_draining(client):
    client.server.app[DRAIN].begin()
    status, body = await ready(client)
    assert status == 503
    assert body["error"] == "not ready: draining"
    assert body["detail"]["draining"] is True and body["detail"]["failed"] == ["draining"]
    assert (await client.get("/api/v1/health")).status == 200  # alive all the same


class RedisServer:
    """A redis-server of the test's own, to stop while the app uses it."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        require(binary is not None, "redis-server (Debian package redis-server)")
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="badminton-redis-")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir]
            + ["--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def started(self) -> None:
        for _ in range(200):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


async def test_not_ready_when_redis_stops(aiohttp_client, settings):
    redis = RedisServer()
    try:
        await redis.started()
        client = await aiohttp_client(create_app(replace(settings, redis_url=redis.url)))
        status, body = await ready(client)
        assert status == 200, body
        assert body["checks"]["redis"] == "ok"
        redis.stop()
        status, body = await ready(client)
    finally:
        redis.stop()
    assert status == 503
    assert body["error"] == "not ready: redis"
    assert body["detail"]["failed"] == ["redis"]
    assert body["detail"]["checks"]["database"] == body["detail"]["checks"]["storage"] == "ok"
    assert (await client.get("/api/v1/health")).status == 200


async def test_not_ready_when_storage_is_unreachable(
    aiohttp_client, settings, moto_endpoint, monkeypatch
):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    switch = TcpSwitch(int(moto_endpoint.rsplit(":", 1)[1]))
    await switch.start()
    try:
        s3 = replace(
            settings,
            s3_bucket=f"matches-{uuid.uuid4().hex[:12]}",
            s3_endpoint_url=switch.endpoint,
            aws_region="eu-west-1",
        )
        client = await aiohttp_client(create_app(s3))
        assert (await ready(client))[0] == 200
        switch.switch_off()
        status, body = await ready(client)
    finally:
        await switch.close()
    assert status == 503
    assert body["detail"]["failed"] == ["storage"], body
    assert body["error"] == "not ready: storage"


async def test_not_ready_when_the_database_is_unreachable(aiohttp_client, settings, postgres_url):
    url = make_url(await fresh_database(postgres_url))
    switch = TcpSwitch(url.port)
    await switch.start()
    try:
        through = url.set(host="127.0.0.1", port=switch.port)
        database_url = through.render_as_string(hide_password=False)
        client = await aiohttp_client(create_app(replace(settings, database_url=database_url)))
        assert (await ready(client))[0] == 200
        switch.switch_off()
        status, body = await ready(client)
    finally:
        await switch.close()
    assert status == 503
    assert body["detail"]["failed"] == ["database"], body


def healthcheck_command() -> str:
    """The Python the Dockerfile's HEALTHCHECK runs."""
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    match = re.search(r'^HEALTHCHECK .*CMD \["python", "-c", "(.*)"\]$', dockerfile, re.M)
    assert match, "the Dockerfile has a HEALTHCHECK running python -c"
    return match.group(1).replace('\\"', '"')


def test_the_image_healthcheck_asks_a_running_server(tmp_path):
    port = free_port()
    code = healthcheck_command().replace("8080", str(port))
    server, log_path = spawn_server(tmp_path, port)
    try:
        wait_ready(server, port, log_path)
        alive = subprocess.run([sys.executable, "-c", code], timeout=60)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    down = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert alive.returncode == 0
    assert down.returncode != 0


@pytest.mark.parametrize("path", ["/api/v1/health", "/api/v1/ready"])
async def test_probes_need_no_sign_in(client, path):
    response = await client.get(path)
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/json")
