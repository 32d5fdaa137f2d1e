"""The FrameAnalyzer fed frame by frame, as the live path will feed it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from analysis.court import Court
from analysis.events import (
    PositionUpdate,
    RallyEnded,
    RallyStarted,
    ShotDetected,
    ShotRemoved,
    ShotUpdated,
    StatsUpdate,
)
from analysis.frame_analyzer import FrameAnalyzer
from analysis.video import iter_frames
from tools.dataset import aicup_clips
from tools.scoring import match_hits

FORBIDDEN = {"asyncio", "aiohttp", "aiortc", "boto3", "aiobotocore", "botocore", "sqlmodel"}


def test_analysis_package_stays_pure():
    """analysis/ imports no network, async, storage or database library, nor server/storage."""
    root = Path(__file__).resolve().parents[2] / "analysis"
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top not in FORBIDDEN | {"server", "storage"}, f"{path.name} imports {name}"


@pytest.fixture(scope="module")
def clip(shared_data):
    return next(c for c in aicup_clips(shared_data) if c.name == "00008")


def test_live_feed_at_15_fps_gives_timed_events(clip):
    """Every 2nd frame only, as a slow live stream would deliver: still finds the shots."""
    court = Court.from_mapping(clip.corners, (1280, 720))
    events = []
    with FrameAnalyzer(court, (1280, 720), pose_fps=15) as analyzer:
        for frame in iter_frames(clip.video):
            if frame.index % 2 == 0:
                events += analyzer.process(frame.image, frame.time)
        events += analyzer.finish()
        report = analyzer.report()
        with pytest.raises(RuntimeError):
            analyzer.process(frame.image, frame.time + 1)

    kinds = {type(e) for e in events}
    assert {PositionUpdate, ShotDetected, StatsUpdate, RallyStarted, RallyEnded} <= kinds
    times = [e.timestamp for e in events if isinstance(e, PositionUpdate)]
    assert times == sorted(times) and times[-1] <= clip.shuttle.shape[0] / 30
    for event in events:
        message = event.to_message()
        assert message["type"] and isinstance(message["timestamp"], float)

    # The report is what the messages leave once every revision is applied.
    shown: dict[int, dict] = {}
    for event in events:
        if isinstance(event, ShotDetected | ShotUpdated):
            shot = event if isinstance(event, ShotDetected) else event.shot
            shown[shot.shot_id] = shot.to_report()
        elif isinstance(event, ShotRemoved):
            del shown[event.shot_id]
    assert sorted(shown.values(), key=lambda s: s["frame"]) == report["shots"]
    shots = analyzer.shots
    labelled = [(s.frame, s.player) for s in clip.strokes]
    # Frame numbers here count the frames fed (every 2nd frame of the clip).
    detected = [(2 * s.frame, s.player) for s in shots]
    assert len(match_hits(detected, labelled, tolerance=6)) >= len(labelled) - 1
    assert report["summary"]["total_shots"] == len(shots)
    assert report["video"]["fps"] == pytest.approx(15.0, rel=0.01)
