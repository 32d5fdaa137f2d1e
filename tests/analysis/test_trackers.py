"""Court trackers: poses started ahead of time give the same analysis as frame by frame."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.court import Court
from analysis.frame_analyzer import FrameAnalyzer
from analysis.shuttle import ShuttlePoint
from analysis.trackers import CourtTrackers, PoseSchedule
from analysis.video import iter_frames, probe
from analysis.video_analyzer import VideoAnalyzer
from tools.dataset import aicup_clips

SIZE = (1280, 720)


@pytest.fixture(scope="module")
def clip(shared_data):
    return next(c for c in aicup_clips(shared_data) if c.name == "00008")


def test_video_analyzer_prefetching_matches_frame_by_frame(clip):
    """VideoAnalyzer starts poses a few frames ahead; the report and the shuttle track are
    exactly those of feeding the same frames one by one without prefetching."""
    ahead: list[ShuttlePoint] = []
    report = VideoAnalyzer(clip.video, clip.corners, 15, shuttle_listener=ahead.extend).run()

    one_by_one: list[ShuttlePoint] = []
    court = Court.from_mapping(clip.corners, SIZE)
    with FrameAnalyzer(court, SIZE, 15, shuttle_listener=one_by_one.extend) as analyzer:
        for frame in iter_frames(clip.video):
            analyzer.process(frame.image, frame.time, frame.index)
        analyzer.finish()
        expected = analyzer.report(fps=probe(clip.video).fps)

    assert report["summary"]["total_shots"] > 0
    assert len(report["players"]["near"]["positions"]) > 50
    # The file's report also says where its corners came from; the rest is the same.
    assert report["court"].pop("source") == "given" and "confidence" not in report["court"]
    assert report == expected
    assert ahead == one_by_one


def test_prefetched_frames_must_be_updated_in_their_order():
    blank = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    court = Court.from_corners([(400, 200), (880, 200), (1100, 650), (180, 650)], SIZE)
    trackers = CourtTrackers(court, SIZE, pose_fps=15)
    try:
        trackers.prefetch(blank, 0, 0.0)
        trackers.prefetch(blank.copy(), 1, 1 / 30)
        with pytest.raises(ValueError, match="in order"):
            trackers.prefetch(blank, 1, 1 / 30)
        with pytest.raises(ValueError, match="prefetched next"):
            trackers.update(blank, 1, 1 / 30)
        assert trackers.update(blank, 0, 0.0).players == {"near": None, "far": None}
        trackers.update(blank, 1, 1 / 30)
        # Not prefetched: posed now, then not again until 1/15 s later.
        assert trackers.update(blank, 2, 2 / 30).players == {"near": None, "far": None}
        assert trackers.update(blank, 3, 3 / 30).players is None
    finally:
        trackers.close()
        trackers.close()


def test_pose_schedule_keeps_its_rate_through_late_frames():
    schedule = PoseSchedule(10.0)
    # 30 fps: every third frame once the first two (a catch-up) have started the count.
    assert [k for k in range(10) if schedule.take(k / 30)] == [0, 1, 3, 6, 9]
    # A frame 0.04 s late is posed, and the next pose stays due at 0.5 s.
    assert schedule.take(0.44)
    assert not schedule.take(0.48)
    assert schedule.take(0.5)
    # After a stall the count restarts from the late frame, with one pose to catch up.
    assert schedule.take(1.0)
    assert schedule.take(1.02)
    assert not schedule.take(1.05)
    assert schedule.take(1.12)
    # A new rate holds from the next pose on; 0 poses every frame.
    schedule.set_rate(0.0)
    assert not schedule.take(1.15)
    assert schedule.take(1.2) and schedule.take(1.21) and schedule.take(1.22)
