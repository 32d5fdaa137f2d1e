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
