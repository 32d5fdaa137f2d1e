"""Shared fixtures: the labelled data folder beside the repository."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
