"""Regression guard on analysis quality: a few labelled clips scored as `make eval` does,
from every frame of the file and as a live stream at 10 frames a second would feed them.

The floors sit a little under what the analyzer measured on these clips; a change that
drops below one of them made the analysis worse.
"""

from __future__ import annotations

import pytest

from tools.dataset import aicup_clips
from tools.evaluate import evaluate_clip, summarise

CLIPS = ("00004", "00030", "00035")
FLOORS = {
    "hit_f1_6": 0.85,
    "hit_f1_3": 0.80,
    "type_accuracy": 0.80,
    "shuttle_precision": 0.85,
    "shuttle_recall": 0.75,
}
MAX_MEDIAN_FOOT_ERROR_M = 0.45


@pytest.fixture(scope="module")
def overall(shared_data):
    clips = [c for c in aicup_clips(shared_data) if c.name in CLIPS]
    assert len(clips) == len(CLIPS)
    return summarise([evaluate_clip(clip, analysis_fps=15.0) for clip in clips])


def test_scores_stay_above_floors(overall):
    measured = {
        "hit_f1_6": overall["hits_6"]["f1"],
        "hit_f1_3": overall["hits_3"]["f1"],
        "type_accuracy": overall["types"]["accuracy"],
        "shuttle_precision": overall["shuttle"]["precision"],
        "shuttle_recall": overall["shuttle"]["recall"],
    }
    below = {k: (v, FLOORS[k]) for k, v in measured.items() if v < FLOORS[k]}
    assert not below, f"below floor (measured, floor): {below}"
    assert overall["foot_error_m"]["median"] <= MAX_MEDIAN_FOOT_ERROR_M
    assert overall["rallies"]["found"] == overall["rallies"]["labelled"]


STREAM_CLIPS = ("00022", "00035")
STREAM_FLOORS = {"hit_f1_6": 0.85, "hit_f1_3": 0.80, "type_accuracy": 0.80}


def test_10_fps_stream_stays_above_floors(shared_data):
    """A phone streaming 10 frames a second: hits and types still hold up."""
    clips = [c for c in aicup_clips(shared_data) if c.name in STREAM_CLIPS]
    assert len(clips) == len(STREAM_CLIPS)
    overall = summarise([evaluate_clip(clip, analysis_fps=10.0, stream_fps=10.0) for clip in clips])
    measured = {
        "hit_f1_6": overall["hits_6"]["f1"],
        "hit_f1_3": overall["hits_3"]["f1"],
        "type_accuracy": overall["types"]["accuracy"],
    }
    below = {k: (v, STREAM_FLOORS[k]) for k, v in measured.items() if v < STREAM_FLOORS[k]}
    assert not below, f"below floor (measured, floor): {below}"
    assert overall["rallies"]["found"] == overall["rallies"]["labelled"]
