"""Hit features are quantities per second: the same flight gives the same turn features
whatever the rate the analyzer is fed at."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.hit_features import FEATURE_NAMES, moment_features

# The rest depend on the rate by nature (time since the last sample seen) or need players.
RATE_FREE = [
    name
    for name in FEATURE_NAMES
    if name.startswith(("kink", "turn", "speed", "vy", "seen", "net"))
]


def v_flight(fps: int) -> tuple[np.ndarray, np.ndarray, int]:
    """A shuttle flying down-right at 600 px/s, hit at 0.8 s, then up-right at 900 px/s, in
    the frames of a 30 fps file that a stream at `fps` delivers."""
    frames = np.arange(0, 49, 30 // fps)
    # Timestamps as the file gives them: 24/30 - 0.1 > 21/30, so window edges need slack.
    times = frames / 30
    hit = int(np.flatnonzero(frames == 24)[0])
    t = times - times[hit]
    xy = np.where(
        (t < 0)[:, None],
        np.column_stack([400 + 300 * t, 300 + 520 * t]),
        np.column_stack([400 + 400 * t, 300 - 806 * t]),
    )
    return times, xy, hit


def features(fps: int) -> dict[str, float]:
    times, xy, hit = v_flight(fps)
    values = moment_features(times, xy, hit, 720.0, {"near": None, "far": None}, net_y=400.0)
    return dict(zip(FEATURE_NAMES, values))


@pytest.mark.parametrize("fps", [10, 15, 30])
def test_turn_is_measured_at_every_scale(fps):
    f = features(fps)
    for name in FEATURE_NAMES:
        if name.startswith(("kink", "turn")):
            assert np.isfinite(f[name]), f"{name} missing at {fps} fps"
    assert f["turn_100"] < 0  # the shuttle comes back up


@pytest.mark.parametrize("fps", [10, 15])
def test_stream_rates_give_the_file_rate_features(fps):
    dense, sparse = features(30), features(fps)
    for name in RATE_FREE:
        assert sparse[name] == pytest.approx(dense[name], rel=1e-6, abs=1e-9), name
