"""deploy/compose.yaml, read as YAML, describes a cluster that can run: each role has the
command and the variables it needs (all of them settings the server knows), the services it
waits for have healthchecks, and Docker waits out the drain before it kills a node."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from server.config import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"
# Read by the S3 client, not by the server's settings.
AWS_CHAIN = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
APP_SERVICES = ("api-a", "api-b", "worker-a", "worker-b")
SHARED = {"DATABASE_URL", "REDIS_URL", "S3_BUCKET", "S3_ENDPOINT_URL", "SECRET_KEY"} | AWS_CHAIN


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def known_settings() -> set[str]:
    source = (ROOT / "server" / "config.py").read_text()
    return set(re.findall(r'env\.get\("([A-Z0-9_]+)"', source)) | AWS_CHAIN


def seconds(duration: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([smh])", duration))


def test_the_cluster_has_every_role():
    services = compose()["services"]
    assert {"api-a", "api-b", "worker-a", "worker-b", "postgres", "redis", "s3", "coturn"} <= set(
        services
    )
    for name in ("api-a", "api-b"):
        assert services[name]["command"][:2] == ["badminton", "serve"]
    for name in ("worker-a", "worker-b"):
        assert services[name]["command"] == ["badminton", "worker"]


def test_each_role_has_the_variables_it_needs_and_only_known_ones():
    services = compose()["services"]
    known = known_settings()
    node_urls = set()
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert SHARED <= set(env), (name, SHARED - set(env))
        assert set(env) <= known, (name, set(env) - known)
    for name in ("api-a", "api-b"):
        env = services[name]["environment"]
        assert {"PUBLIC_URL", "NODE_URL", "TURN_SECRET", "TURN_URLS", "METRICS_TOKEN"} <= set(env)
        assert env["JOB_WORKERS"] == "0"
        node_urls.add(env["NODE_URL"])
        Settings.from_env({k: v for k, v in env.items() if "${" not in v})  # valid values
    assert node_urls == {"http://api-a:8080", "http://api-b:8080"}
    for name in ("worker-a", "worker-b"):
        assert int(services[name]["environment"]["JOB_WORKERS"]) >= 1
    # Every node and worker shares one database, queue, bucket and key.
    shared = [{k: services[n]["environment"][k] for k in SHARED} for n in APP_SERVICES]
    assert all(s == shared[0] for s in shared)


def test_dependencies_are_healthy_first_and_the_drain_is_waited_out():
    services = compose()["services"]
    for name in APP_SERVICES:
        for dependency, condition in services[name]["depends_on"].items():
            assert condition == {"condition": "service_healthy"}
            assert "test" in services[dependency]["healthcheck"], dependency
    for name in ("api-a", "api-b"):
        drain = float(services[name]["environment"]["DRAIN_TIMEOUT_S"])
        assert seconds(services[name]["stop_grace_period"]) > drain
