"""The job and sign-in limits read from the environment, and refused when they cannot work."""

from __future__ import annotations

import pytest

from server.config import ConfigError, Settings

LIMITS = {
    "JOB_MAX_ATTEMPTS": ("job_max_attempts", "5", 5),
    "JOB_TIMEOUT_S": ("job_timeout_s", "7200", 7200.0),
    "JOB_STALL_TIMEOUT_S": ("job_stall_timeout_s", "60.5", 60.5),
    "LOGIN_FAILURES_PER_ACCOUNT": ("login_failures_per_account", "4", 4),
    "LOGIN_FAILURES_PER_ADDRESS": ("login_failures_per_address", "20", 20),
    "LOGIN_FAILURE_WINDOW_S": ("login_failure_window_s", "60", 60.0),
    "PASSWORD_HASH_THREADS": ("password_hash_threads", "2", 2),
    "RECORDING_FLUSH_S": ("recording_flush_s", "2.5", 2.5),
}


@pytest.mark.parametrize("variable", sorted(LIMITS))
def test_limit_from_environment(variable):
    field, text, value = LIMITS[variable]
    assert getattr(Settings.from_env({variable: text}), field) == value


@pytest.mark.parametrize("variable", sorted(LIMITS))
@pytest.mark.parametrize("text", ["0", "-1", "many"])
def test_unusable_limit_is_refused(variable, text):
    with pytest.raises(ConfigError, match=variable if text != "many" else "bad setting"):
        Settings.from_env({variable: text})


def test_node_settings():
    settings = Settings.from_env({"PORT": "9000", "NODE_HEARTBEAT_S": "0.5"})
    assert settings.internal_url == "http://127.0.0.1:9000" and settings.node_heartbeat_s == 0.5
    assert not settings.cluster
    given = Settings.from_env({"NODE_URL": "http://10.0.0.7:8080/", "REDIS_URL": "redis://r/0"})
    assert given.internal_url == "http://10.0.0.7:8080" and given.cluster


@pytest.mark.parametrize(
    "env, message",
    [
        ({"NODE_URL": "10.0.0.7:8080"}, "NODE_URL must be"),
        ({"NODE_URL": "http://node/api"}, "NODE_URL must be"),
        ({"NODE_HEARTBEAT_S": "0"}, "NODE_HEARTBEAT_S"),
    ],
)
def test_unusable_node_settings_are_refused(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)
