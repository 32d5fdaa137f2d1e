"""The `badminton analyze` command end to end, on real clips and on bad input."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import pytest

from analysis.court import CORNER_NAMES
from tests.server.conftest import corners_arg, run_cli
from tools.dataset import aicup_clips
from tools.scoring import match_hits


def test_writes_report_and_heatmaps(analysed, clip):
    out, result = analysed
    report = json.loads((out / "report.json").read_text())
    assert report["schema"] == 1
    assert report["video"]["frames"] == len(clip.shuttle)
    assert report["video"]["fps"] == pytest.approx(30.0)
    assert (report["video"]["width"], report["video"]["height"]) == (1280, 720)
    corners = {"far_left", "far_right", "near_right", "near_left"}
    assert set(report["court"]) == corners | {"source"} and report["court"]["source"] == "given"
    for side in ("near", "far"):
        player = report["players"][side]
        assert player["distance_m"] > 0
        assert len(player["positions"]) > 50
        image = cv2.imread(str(out / report["heatmaps"][side]))
        assert image is not None and image.shape[0] > image.shape[1] > 100
    summary = report["summary"]
    assert summary["total_shots"] == len(report["shots"])
    assert sum(summary["shot_distribution"].values()) == summary["total_shots"]
    assert summary["rallies"] == len(report["rallies"]) >= 1
    assert "report written" in result.stdout


def test_detects_the_labelled_shots(analysed, clip):
    """The clip's labelled hits are found, by the right player, at the right moment."""
    out, _ = analysed
    shots = json.loads((out / "report.json").read_text())["shots"]
    labelled = [(s.frame, s.player) for s in clip.strokes]
    pairs = match_hits([(s["frame"], s["player"]) for s in shots], labelled, tolerance=6)
    assert len(pairs) >= len(labelled) - 1
    assert len(shots) <= len(labelled) + 1
    # The serve is typed as a serve.
    first = min(pairs, key=lambda p: p[1])
    assert shots[first[0]]["type"] == clip.strokes[0].type


def test_court_as_json_file(clip, tmp_path):
    court = tmp_path / "court.json"
    court.write_text(json.dumps(clip.corners))
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**clip.corners, "near_right": [5000, 700]}))
    result = run_cli("analyze", str(clip.video), "--court", str(bad), "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "badminton: error: court corner near_right (5000, 700) is outside the 1280x720 frame"
    ]


@pytest.mark.parametrize(
    ("make_input", "court", "message"),
    [
        (lambda d: d / "missing.mp4", None, "file not found"),
        (lambda d: _write(d / "notes.mp4", b"just some text\n" * 100), None, "not a video"),
        (lambda d: _truncated(d), None, "damaged or incomplete"),
        (lambda d: _write(d / "empty.mp4", b""), None, "empty"),
        (lambda d: None, "1,2,3", "court needs 8 numbers"),
        (lambda d: None, "0,0,10,0,20,0,30,0", "degenerate"),
    ],
)
def test_bad_input_is_one_clear_line(make_input, court, message, clip, tmp_path):
    video = make_input(tmp_path) or clip.video
    court = court or corners_arg(clip.corners)
    result = run_cli("analyze", str(video), "--court", court, "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("badminton: error:"), result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _truncated(directory: Path) -> Path:
    source = aicup_clips()[0].video.read_bytes()
    return _write(directory / "cut.mp4", source[: len(source) // 2])


def test_a_mistyped_option_is_named(clip, tmp_path):
    court = corners_arg(clip.corners)
    result = run_cli("analyze", str(clip.video), "--cort", court, "--out", str(tmp_path / "o"))
    assert result.returncode == 2
    assert "unknown option --cort (did you mean --court?)" in result.stderr
    assert "required" not in result.stderr
    assert not (tmp_path / "o").exists()


def test_analyse_is_analyze(clip, tmp_path):
    """Spelt as the pages spell it; a missing file is enough to reach the command."""
    result = run_cli(
        "analyse",
        str(tmp_path / "gone.mp4"),
        "--court",
        corners_arg(clip.corners),
        "--out",
        str(tmp_path / "o"),
    )
    assert result.returncode == 2
    assert result.stderr.strip() == "badminton: error: gone.mp4: file not found"


def test_analyze_without_court_detects_it_and_finds_the_same_shots(clip, cli_report, tmp_path):
    result = run_cli("analyze", str(clip.video), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "court detected (confidence " in result.stdout
    report = json.loads((tmp_path / "report.json").read_text())
    court = report["court"]
    assert court.pop("source") == "detected" and court.pop("confidence") > 0.5
    assert cli_report["court"]["source"] == "given" and "confidence" not in cli_report["court"]
    for name, corner in court.items():
        assert math.dist(corner, clip.corners[name]) < 3.0, name
    # The same hits, by the same players, as with the labelled corners.
    shots = [(s["frame"], s["player"]) for s in report["shots"]]
    given = [(s["frame"], s["player"]) for s in cli_report["shots"]]
    assert len(shots) == len(given)
    assert len(match_hits(shots, given, tolerance=2)) == len(given)


def test_court_command_prints_the_corners(clip):
    result = run_cli("court", str(clip.video))
    assert result.returncode == 0, result.stderr
    numbers = [float(v) for v in result.stdout.strip().split(",")]
    labelled = [v for name in CORNER_NAMES for v in clip.corners[name]]
    assert len(numbers) == 8
    assert max(abs(a - b) for a, b in zip(numbers, labelled)) < 3.0
    as_json = json.loads(run_cli("court", str(clip.video), "--json", "--at", "1").stdout)
    assert set(as_json["court"]) == set(CORNER_NAMES) and 0.5 < as_json["confidence"] <= 1


def test_court_command_refuses_a_picture_without_a_court(shared_data):
    result = run_cli("court", str(shared_data / "phone_smash_sideview" / "3.mp4"))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("badminton: error: no badminton court found in 3.mp4"), lines
