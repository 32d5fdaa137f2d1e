"""The court part of `make eval` and the court stage of `make bench`, on a small data folder."""

from __future__ import annotations

import json

import pytest

from analysis.court import Court
from tools import bench, court_eval, evaluate
from tools.dataset import aicup_clips

CLIP = "00042"


@pytest.fixture
def small_data(shared_data, tmp_path):
    """One labelled rally and the portrait close-up, linked into a data folder of their own."""
    src, dst = shared_data / "aicup2023_rallies", tmp_path / "aicup2023_rallies"
    for sub, name in (
        ("videos", f"{CLIP}.mp4"),
        ("stroke_labels", f"{CLIP}_S2.csv"),
        ("shuttle_labels", f"{CLIP}_ball.csv"),
        (".", "court_corners.json"),
    ):
        (dst / sub).mkdir(parents=True, exist_ok=True)
        (dst / sub / name).symlink_to(src / sub / name)
    (tmp_path / "portrait_smash").symlink_to(shared_data / "portrait_smash")
    return tmp_path


def test_court_table_scores_labelled_clips_and_refusals(small_data, capsys):
    result = court_eval.court_table(small_data)
    aicup = result["aicup"]["summary"]
    assert aicup["clips"] == 1 and aicup["refused"] == 0
    assert aicup["median_px"] < 3.0 and aicup["all_within_10px"] == 1.0
    assert "denmark" not in result  # no corners for it in this folder
    assert result["portrait"] == {**result["portrait"], "pictures": 1, "refused": 1}
    assert result["blank_random"]["refused"] == 2
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["source", "clips", "median"]
    assert [line.split()[0] for line in table[1:]] == ["aicup", "portrait", "blank_random"]


def test_evaluate_runs_only_the_court_part(small_data, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BADMINTON_DATA", str(small_data))
    out = tmp_path / "eval.json"
    assert evaluate.main(["--only", "court", "--out", str(out)]) == 0
    assert list(json.loads(out.read_text())) == ["court"]
    assert "court detection" in capsys.readouterr().out


def test_bench_court_stage_times_a_detection(small_data):
    clip = next(c for c in aicup_clips(small_data) if c.name == CLIP)
    ctx = bench.Context(
        video=clip.video,
        clip=clip,
        court=Court.from_mapping(clip.corners),
        size=(1280, 720),
        fps=30.0,
        frames=0,
        duration=0.0,
        analysis_fps=(),
    )
    results = {r.name: r for r in bench.bench_court(ctx)}
    assert set(results) == {"cpu_s_per_detection", "cpu_s_per_still"}
    assert all(r.unit == "s" and r.value > 0 for r in results.values())
    assert "5 frame(s) 1280x720" in results["cpu_s_per_detection"].note
    assert "no court found" not in results["cpu_s_per_detection"].note
