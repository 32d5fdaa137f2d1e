"""Settings are checked before the server starts: a value it cannot use ends `badminton serve`
with one line naming the variable, before anything is created or listened on."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from server.config import Settings
from tests.server.server_process import free_port

BAD = {
    "JOB_WORKERS=-1": "JOB_WORKERS must be 0 (no jobs on this node) or more, got -1",
    "ANALYSIS_FPS=0": "ANALYSIS_FPS must be more than 0, got 0.0",
    "LIVE_POSE_BUDGET=-5": "LIVE_POSE_BUDGET must be more than 0",
    "DRAIN_TIMEOUT_S=0": "DRAIN_TIMEOUT_S must be more than 0",
    "JOB_WORKERS=two": "JOB_WORKERS must be a whole number, got 'two'",
    "PORT=70000": "PORT must be between 1 and 65535",
    "LOG_LEVEL=LOUD": "LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
    "LOG_FORMAT=xml": "LOG_FORMAT must be text or json",
    "DATABASE_URL=db.example.com/matches": "DATABASE_URL is not a database URL",
    "DATABASE_URL=mysql://db.example.com/matches": "DATABASE_URL must be sqlite+aiosqlite://",
    "DATABASE_URL=postgresql+asyncpg:///matches": "DATABASE_URL names no database host",
    "REDIS_URL=redis.example.com:6379": "REDIS_URL must be a redis/rediss/unix:// URL",
    "REDIS_URL=redis://redis.example.com:port/0": "REDIS_URL is not a URL",
    "S3_ENDPOINT_URL=minio:9000": "S3_ENDPOINT_URL must be a http/https:// URL",
    "PUBLIC_URL=matches.example.com": "PUBLIC_URL must be http(s)://host[:port]",
    "NODE_URL=http://node-a:99999": "NODE_URL is not a URL",
    "NODE_URL=http://node-a:8080/api": "NODE_URL must be http(s)://host[:port]",
    "TURN_URLS=relay.example.com:3478": "TURN_URLS must list turn/turns: URLs",
}


@pytest.mark.parametrize("setting", sorted(BAD))
def test_serve_refuses_a_bad_setting_in_one_line(tmp_path, setting):
    name, value = setting.split("=", 1)
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "PORT": str(free_port())}
    env[name] = value
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("badminton: error: "), result.stderr
    assert BAD[setting] in lines[0]
    assert not (tmp_path / "data").exists()  # nothing was started


def test_node_url_from_the_environment_or_the_listening_address():
    assert Settings.from_env({"NODE_URL": "http://10.0.1.7:8080/"}).node_url == (
        "http://10.0.1.7:8080"
    )
    assert Settings(host="10.0.1.7", port=9000).internal_url == "http://10.0.1.7:9000"
    assert Settings(host="10.0.1.7", node_url="http://api-a:8080").internal_url == (
        "http://api-a:8080"
    )
    everywhere = Settings(host="0.0.0.0", port=9000).internal_url
    assert everywhere.endswith(":9000") and "0.0.0.0" not in everywhere


def test_good_urls_pass():
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql+asyncpg://app:pw@db.internal:5432/matches",
            "REDIS_URL": "rediss://cache.internal:6379/0",
            "S3_ENDPOINT_URL": "http://minio:9000",
            "TURN_URLS": "turn:relay.example.com:3478?transport=udp,turns:relay.example.com:5349",
            "STUN_URLS": "stun:stun.example.com:3478",
            "JOB_WORKERS": "0",
        }
    )
    assert settings.job_workers == 0 and settings.redis_url == "rediss://cache.internal:6379/0"
