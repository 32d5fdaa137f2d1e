"""Court detection on real frames against the labelled corners, and refusals."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from analysis.court import CORNER_NAMES, Court
from analysis.court_detect import MIN_CONFIDENCE, detect_court
from analysis.court_video import court_frames

DENMARK = [[448.0, 256.6], [818.2, 256.2], [981.2, 646.4], [278.8, 649.0]]


def corner_errors(found: np.ndarray, truth) -> np.ndarray:
    return np.linalg.norm(found - np.asarray(truth, dtype=float), axis=1)


@pytest.mark.parametrize("clip", ["00030", "00042"])  # two matches, two halls
def test_finds_the_labelled_corners_of_a_broadcast_rally(shared_data, clip):
    folder = shared_data / "aicup2023_rallies"
    labels = json.loads((folder / "court_corners.json").read_text())[clip]
    found = detect_court(court_frames(folder / "videos" / f"{clip}.mp4"))
    assert found.found and found.confidence >= MIN_CONFIDENCE
    errors = corner_errors(found.corners, [labels[name] for name in CORNER_NAMES])
    assert errors.max() < 4.0, errors
    Court.from_mapping(found.as_dict(), (1280, 720))  # a court the analysis takes


def test_finds_the_court_of_another_hall_in_one_still(shared_data):
    image = cv2.imread(str(shared_data / "shuttleset_denmark2019" / "frame.png"))
    found = detect_court([image])
    assert found.found, found.reason
    assert corner_errors(found.corners, DENMARK).max() < 4.0


@pytest.mark.parametrize(
    "video", ["phone_smash_sideview/32.mp4", "portrait_smash/jump_smash_portrait_720x1280.mp4"]
)
def test_refuses_a_few_lines_of_a_court(shared_data, video):
    found = detect_court(court_frames(shared_data / video))
    assert not found.found and found.corners is None
    assert found.reason == "no badminton court found"
    assert found.confidence < MIN_CONFIDENCE
    with pytest.raises(ValueError, match="no badminton court"):
        found.as_dict()


def test_refuses_blank_random_and_unrelated_pictures(shared_data):
    noise = np.random.default_rng(7).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
    photo = cv2.imread(str(shared_data / "pose_images" / "000000196141.jpg"))
    for image in (np.zeros((720, 1280, 3), np.uint8), noise, photo):
        assert not detect_court([image]).found


def test_rejects_frames_that_are_not_pictures_of_one_size():
    with pytest.raises(ValueError):
        detect_court([])
    with pytest.raises(ValueError):
        detect_court([np.zeros((720, 1280, 3), np.uint8), np.zeros((360, 640, 3), np.uint8)])
