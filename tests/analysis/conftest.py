"""Shared by the pose tests: the labelled COCO photo of a skier."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from analysis.pose import COCO_TO_MEDIAPIPE, Pose
from tests.conftest import require

SKIER = 785


@pytest.fixture(scope="session")
def skier(shared_data: Path) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float, float]]:
    """The photo, its 17 labelled COCO keypoints (x, y) and the person's box (x, y, w, h)."""
    images = shared_data / "pose_images"
    require((images / "test_coco.json").is_file(), f"COCO labels not found in {images}")
    labels = json.loads((images / "test_coco.json").read_text())
    (ann,) = [a for a in labels["annotations"] if a["image_id"] == SKIER]
    keypoints = np.array(ann["keypoints"], dtype=np.float64).reshape(17, 3)
    assert (keypoints[:, 2] > 0).all()  # every keypoint labelled
    image = cv2.imread(str(images / "000000000785.jpg"))
    assert image is not None
    return image, keypoints[:, :2], tuple(ann["bbox"])


def keypoint_errors(pose: Pose, keypoints: np.ndarray) -> np.ndarray:
    """Pixels from each labelled COCO keypoint to the pose's matching landmark."""
    return np.linalg.norm(pose.landmarks[list(COCO_TO_MEDIAPIPE)] - keypoints, axis=1)
