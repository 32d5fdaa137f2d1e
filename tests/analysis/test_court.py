"""Court geometry against the ShuttleSet corners and homography, and input validation."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from analysis.court import (
    COURT_LENGTH,
    COURT_WIDTH,
    Court,
    CourtError,
    half_of,
    in_court,
)

DENMARK = [[448.0, 256.6], [818.2, 256.2], [981.2, 646.4], [278.8, 649.0]]


@pytest.fixture(scope="module")
def shuttleset_homography(shared_data):
    path = shared_data / "shuttleset_denmark2019" / "homography_matrix.csv"
    with path.open(newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["id"] == "29")
    corners = [
        [float(row[f"{c}_x"]), float(row[f"{c}_y"])]
        for c in ("upleft", "upright", "downright", "downleft")
    ]
    return np.array(json.loads(row["homography_matrix"])), corners


def test_corners_map_to_court_corners():
    court = Court.from_corners(DENMARK)
    got = court.image_to_court(DENMARK)
    want = [[0, 0], [COURT_WIDTH, 0], [COURT_WIDTH, COURT_LENGTH], [0, COURT_LENGTH]]
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_round_trip_is_identity():
    court = Court.from_corners(DENMARK)
    rng = np.random.default_rng(0)
    pts = rng.uniform([300, 260], [950, 640], size=(50, 2))
    np.testing.assert_allclose(court.court_to_image(court.image_to_court(pts)), pts, atol=1e-6)


def test_agrees_with_shuttleset_homography(shuttleset_homography):
    """Both homographies see the same plane, so they differ by an affine map of the court."""
    theirs, corners = shuttleset_homography
    np.testing.assert_allclose(corners, DENMARK)
    court = Court.from_corners(corners)
    rng = np.random.default_rng(1)
    pts = rng.uniform([300, 260], [950, 640], size=(200, 2))
    ours = court.image_to_court(pts)
    homog = np.hstack([pts, np.ones((len(pts), 1))]) @ theirs.T
    their_xy = homog[:, :2] / homog[:, 2:]
    design = np.hstack([ours, np.ones((len(ours), 1))])
    affine, *_ = np.linalg.lstsq(design, their_xy, rcond=None)
    residual = np.abs(design @ affine - their_xy).max()
    span = np.ptp(their_xy, axis=0).max()
    assert residual < 1e-3 * span
    # Their court is a scaled copy of ours: the same 13.40 x 6.10 proportions.
    sx, sy = np.linalg.norm(affine[0]), np.linalg.norm(affine[1])
    assert sx == pytest.approx(sy, rel=0.02)


def test_labelled_feet_fall_in_their_halves(shared_data):
    """Every labelled hitter of a ShuttleSet-style AI CUP clip maps onto its own half."""
    from tools.dataset import aicup_clips

    for clip in aicup_clips(shared_data)[:5]:
        court = Court.from_mapping(clip.corners, (1280, 720))
        for stroke in clip.strokes:
            xy = court.image_to_court(stroke.hitter_px)
            assert in_court(xy, margin=2.0), (clip.name, stroke)
            assert half_of(xy) == stroke.player, (clip.name, stroke)


def test_in_court_and_halves():
    assert in_court([3.0, 6.0])
    assert not in_court([-0.5, 6.0])
    assert in_court([-0.5, 6.0], margin=1.0)
    assert half_of([3.0, 1.0]) == "far"
    assert half_of([3.0, 12.0]) == "near"


def test_parse_forms(tmp_path):
    text = ",".join(str(v) for point in DENMARK for v in point)
    by_numbers = Court.parse(text)
    mapping = dict(zip(("far_left", "far_right", "near_right", "near_left"), DENMARK))
    path = tmp_path / "court.json"
    path.write_text(json.dumps(mapping))
    by_file = Court.parse(str(path))
    np.testing.assert_allclose(by_numbers.to_court, by_file.to_court)
    assert by_file.as_dict()["near_left"] == [278.8, 649.0]


@pytest.mark.parametrize(
    ("corners", "message"),
    [
        ([[0, 0], [10, 0], [10, 10]], "4 corner points"),
        ([[448, 256], [818, 256], [981, 646], [278, 649], [1, 1]], "4 corner points"),
        ([[100, 100], [200, 100], [300, 100], [400, 100]], "degenerate"),
        ([[448, 256], [818, 256], [278, 649], [981, 646]], "convex"),
        ([[981, 646], [278, 649], [448, 256], [818, 256]], "near corners must be lower"),
        ([[818, 256], [448, 256], [278, 649], [981, 646]], "left corners"),
        ([[448, 256], [818, float("nan")], [981, 646], [278, 649]], "finite"),
    ],
)
def test_bad_corners(corners, message):
    with pytest.raises(CourtError, match=message):
        Court.from_corners(corners)


def test_corner_outside_frame():
    with pytest.raises(CourtError, match="near_right .* outside the 960x540 frame"):
        Court.from_corners(DENMARK, frame_size=(960, 540))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1,2,3", "8 numbers"),
        ("a,b,c,d,e,f,g,h", "8 comma-separated numbers"),
        ('{"far_left": [1, 2]}', "missing corner"),
        ("{not json", "not valid"),
        ("/no/such/court.json", "not found"),
    ],
)
def test_bad_court_text(text, message):
    with pytest.raises(CourtError, match=message):
        Court.parse(text)
