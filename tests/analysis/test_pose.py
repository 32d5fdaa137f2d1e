"""MediaPipe pose on a labelled COCO photo, crops mapped back to the frame, Pose geometry."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from analysis.pose import (
    LEFT_ANKLE,
    LEFT_FOOT_INDEX,
    LEFT_HEEL,
    NOSE,
    NUM_LANDMARKS,
    RIGHT_ANKLE,
    RIGHT_FOOT_INDEX,
    RIGHT_HEEL,
    SOLE_OFFSET,
    Pose,
    PoseEstimator,
)
from tests.analysis.conftest import keypoint_errors


def test_finds_the_labelled_keypoints_on_a_photo(skier) -> None:
    image, keypoints, (_, _, _, box_h) = skier
    with PoseEstimator(tracking=False) as estimator:
        pose = estimator.estimate(image)
    assert pose is not None
    errors = keypoint_errors(pose, keypoints)
    # Measured: median 5.8 px, worst 21 px on a 347 px tall person (1.7% and 6.2%).
    assert np.median(errors) < 0.035 * box_h
    assert errors.max() < 0.12 * box_h
    assert pose.landmarks.shape == (NUM_LANDMARKS, 2)
    assert pose.visibility.shape == (NUM_LANDMARKS,)


def test_crop_landmarks_come_back_in_frame_pixels(skier) -> None:
    image, keypoints, (x, y, w, h) = skier
    # The photo pasted at an offset into a larger frame, found through a crop around it that
    # is small enough to be upscaled.
    offset = np.array([500.0, 300.0])
    frame = np.full((1100, 1500, 3), 127, dtype=np.uint8)
    frame[300 : 300 + image.shape[0], 500 : 500 + image.shape[1]] = image
    frame = cv2.resize(frame, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    offset, keypoints, box = offset / 2, keypoints / 2, np.array([x, y, x + w, y + h]) / 2
    crop = (
        int(offset[0] + box[0] - 30),
        int(offset[1] + box[1] - 30),
        int(offset[0] + box[2] + 30),
        int(offset[1] + box[3] + 30),
    )
    with PoseEstimator(tracking=False) as estimator:
        pose = estimator.estimate(frame, crop)
    assert pose is not None
    errors = keypoint_errors(pose, keypoints + offset)
    assert np.median(errors) < 0.035 * h / 2
    x0, y0, x1, y1 = pose.box()
    assert crop[0] - 10 < x0 < x1 < crop[2] + 10
    assert crop[1] - 10 < y0 < y1 < crop[3] + 10


def test_tracking_mode_follows_the_person_across_calls(skier) -> None:
    image, keypoints, (_, _, _, box_h) = skier
    with PoseEstimator(tracking=True) as estimator:
        poses = [estimator.estimate(image) for _ in range(3)]
    for pose in poses:
        assert pose is not None
        assert np.median(keypoint_errors(pose, keypoints)) < 0.035 * box_h


@pytest.mark.parametrize("value", [0, 200])
def test_no_person_gives_none(value: int) -> None:
    blank = np.full((480, 640, 3), value, dtype=np.uint8)
    with PoseEstimator(tracking=False) as estimator:
        assert estimator.estimate(blank) is None
        assert estimator.estimate(blank, (100, 100, 300, 400)) is None


def test_crop_outside_the_frame_gives_none() -> None:
    frame = np.zeros((100, 100, 3), dtype=np.uint8)
    with PoseEstimator() as estimator:
        assert estimator.estimate(frame, (200, 200, 300, 300)) is None


def test_close_is_idempotent_and_final() -> None:
    estimator = PoseEstimator()
    estimator.close()
    estimator.close()
    with pytest.raises(RuntimeError):
        estimator.estimate(np.zeros((64, 64, 3), dtype=np.uint8))


def _standing(feet_y: float = 200.0) -> Pose:
    """A synthetic upright person: nose at y=40, ankles 10 px above `feet_y`."""
    landmarks = np.zeros((NUM_LANDMARKS, 2))
    landmarks[:] = (100.0, 50.0)  # face and hand points, which box() ignores
    landmarks[NOSE] = (100, 40)
    landmarks[11], landmarks[12] = (85, 70), (115, 70)  # shoulders
    landmarks[13], landmarks[14] = (86, 95), (114, 95)  # elbows
    landmarks[15], landmarks[16] = (88, 118), (112, 118)  # wrists
    landmarks[23], landmarks[24] = (90, 120), (110, 120)  # hips
    landmarks[25], landmarks[26] = (90, 155), (110, 155)  # knees
    landmarks[LEFT_ANKLE], landmarks[RIGHT_ANKLE] = (90, feet_y - 10), (110, feet_y - 10)
    landmarks[LEFT_HEEL], landmarks[RIGHT_HEEL] = (92, feet_y - 4), (112, feet_y - 4)
    landmarks[LEFT_FOOT_INDEX], landmarks[RIGHT_FOOT_INDEX] = (84, feet_y), (116, feet_y - 2)
    return Pose(landmarks=landmarks, visibility=np.ones(NUM_LANDMARKS))


def test_feet_sit_on_the_lowest_foot_points_plus_the_sole_offset() -> None:
    pose = _standing(feet_y=200.0)
    left, right = pose.feet()
    body = (200 + 198) / 2 - 40  # nose down to the lowest foot points
    assert left == pytest.approx([90, 200 + SOLE_OFFSET * body])
    assert right == pytest.approx([110, 198 + SOLE_OFFSET * body])
    assert pose.foot_point() == pytest.approx([100, 199 + SOLE_OFFSET * body])
    assert pose.height_px() == pytest.approx(body)
    assert pose.hip_center() == pytest.approx([100, 120])
    assert pose.box() == pytest.approx((84, 40, 116, 200))


def test_body_length_does_not_change_when_the_body_tips_over() -> None:
    pose = _standing()
    angle = np.radians(70)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    tipped = Pose(pose.landmarks @ rotation.T, pose.visibility)
    assert tipped.body_length_px() == pytest.approx(pose.body_length_px())
    assert abs(tipped.height_px()) < 0.6 * pose.height_px()


@pytest.mark.parametrize(
    ("landmarks", "visibility"),
    [
        (np.zeros((17, 2)), np.ones(33)),
        (np.zeros((33, 2)), np.ones(17)),
        (np.zeros(66), np.ones(33)),
    ],
)
def test_pose_rejects_wrong_shapes(landmarks: np.ndarray, visibility: np.ndarray) -> None:
    with pytest.raises(ValueError, match="expected"):
        Pose(landmarks=landmarks, visibility=visibility)
