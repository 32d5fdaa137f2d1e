"""BlazePose run directly by LiteRT: a labelled COCO photo, agreement with the MediaPipe graph
on a real rally's player crops, the tracking region, the heatmap refinement."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import cast

import numpy as np
import pytest

from analysis.blazepose import (
    INPUT_SIZE,
    BlazePoseEstimator,
    BlazePoseUnavailableError,
    Roi,
    refine_from_heatmap,
    roi_from_auxiliary,
)
from analysis.court import Court
from analysis.players import PlayerTracker
from analysis.pose import NUM_LANDMARKS, Pose, PoseEstimator
from tests.analysis.conftest import keypoint_errors
from tests.conftest import require
from tools.dataset import aicup_clips
from tools.foot_error import iter_frames

# Landmarks compared between the two estimators: the body, without face and hand points.
BODY = (0, *range(11, 17), *range(23, 33))
CLIP = "00001"
LAST_FRAME = 240  # 8 s of the rally at 15 analysed frames per second: ~240 calls each


@pytest.fixture(scope="module")
def litert() -> None:
    require(importlib.util.find_spec("ai_edge_litert") is not None, "ai-edge-litert")


def test_finds_the_labelled_keypoints_on_a_photo(litert, skier) -> None:
    image, keypoints, (_, _, _, box_h) = skier
    with BlazePoseEstimator(tracking=False) as estimator:
        pose = estimator.estimate(image)
    assert pose is not None
    errors = keypoint_errors(pose, keypoints)
    # The graph's bounds. Measured: median 6.8 px, worst 23 px on a 347 px tall person (the
    # graph: 5.8 and 21 px).
    assert np.median(errors) < 0.035 * box_h
    assert errors.max() < 0.12 * box_h
    assert pose.landmarks.shape == (NUM_LANDMARKS, 2)
    assert ((pose.visibility >= 0) & (pose.visibility <= 1)).all()


def _pasted(image: np.ndarray, size: tuple[int, int], offset: tuple[int, int]) -> np.ndarray:
    frame = np.full((size[1], size[0], 3), 127, dtype=np.uint8)
    x, y = offset
    frame[y : y + image.shape[0], x : x + image.shape[1]] = image
    return frame


def _person_crop(
    box: tuple[float, float, float, float], offset: tuple[int, int], margin: int = 60
) -> tuple[int, int, int, int]:
    x, y, w, h = box
    return (
        int(offset[0] + x - margin),
        int(offset[1] + y - margin),
        int(offset[0] + x + w + margin),
        int(offset[1] + y + h + margin),
    )


def test_crop_landmarks_come_back_in_frame_pixels(litert, skier) -> None:
    image, keypoints, box = skier
    offset = (500, 300)
    frame = _pasted(image, (1500, 1100), offset)
    crop = _person_crop(box, offset)
    with BlazePoseEstimator(tracking=False) as estimator:
        pose = estimator.estimate(frame, crop)
    assert pose is not None
    assert np.median(keypoint_errors(pose, keypoints + offset)) < 0.035 * box[3]
    x0, y0, x1, y1 = pose.box()
    assert crop[0] - 10 < x0 < x1 < crop[2] + 10
    assert crop[1] - 10 < y0 < y1 < crop[3] + 10


def test_tracking_mode_follows_the_person_across_calls(litert, skier) -> None:
    image, keypoints, (_, _, _, box_h) = skier
    with BlazePoseEstimator(tracking=True) as estimator:
        poses = [estimator.estimate(image) for _ in range(3)]
    for pose in poses:
        assert pose is not None
        assert np.median(keypoint_errors(pose, keypoints)) < 0.035 * box_h


def test_tracking_region_resets_when_the_crop_jumps(litert, skier) -> None:
    # The same person twice in one frame. Once the crop jumps from one to the other, the
    # region around the first one (now outside the crop, black to the model) must not be
    # reused.
    image, keypoints, box = skier
    left, right = (0, 100), (900, 100)
    frame = _pasted(image, (1600, 700), left)
    frame[right[1] : right[1] + image.shape[0], right[0] : right[0] + image.shape[1]] = image
    with BlazePoseEstimator(tracking=True) as estimator:
        first = estimator.estimate(frame, _person_crop(box, left))
        second = estimator.estimate(frame, _person_crop(box, right))
    assert first is not None and second is not None
    assert np.median(keypoint_errors(first, keypoints + left)) < 0.035 * box[3]
    assert np.median(keypoint_errors(second, keypoints + right)) < 0.035 * box[3]


@pytest.mark.parametrize("value", [0, 200])
def test_no_person_gives_none(litert, value: int) -> None:
    blank = np.full((480, 640, 3), value, dtype=np.uint8)
    with BlazePoseEstimator(tracking=False) as estimator:
        assert estimator.estimate(blank) is None
        assert estimator.estimate(blank, (100, 100, 300, 400)) is None


def test_crop_outside_the_frame_gives_none(litert) -> None:
    frame = np.zeros((100, 100, 3), dtype=np.uint8)
    with BlazePoseEstimator() as estimator:
        assert estimator.estimate(frame, (200, 200, 300, 300)) is None


def test_close_is_idempotent_and_final(litert) -> None:
    estimator = BlazePoseEstimator()
    estimator.close()
    estimator.close()
    with pytest.raises(RuntimeError, match="closed"):
        estimator.estimate(np.zeros((64, 64, 3), dtype=np.uint8))


def test_a_missing_model_is_a_clear_error(litert, tmp_path: Path) -> None:
    with pytest.raises(BlazePoseUnavailableError, match="model not found"):
        BlazePoseEstimator(model_path=tmp_path / "pose_landmark_full.tflite")


def test_a_missing_runtime_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # None entries make `import ai_edge_litert...` fail as if it were not installed.
    for name in ["ai_edge_litert", *(m for m in sys.modules if m.startswith("ai_edge_litert."))]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(BlazePoseUnavailableError, match="ai-edge-litert"):
        BlazePoseEstimator()


class _BothEstimators:
    """The graph drives the player tracker; the direct model gets the same crops alongside."""

    def __init__(self) -> None:
        self.graph = PoseEstimator()
        self.direct = BlazePoseEstimator()
        self.pairs: list[tuple[Pose | None, Pose | None]] = []

    def estimate(self, frame_bgr: np.ndarray, crop: tuple[int, int, int, int]) -> Pose | None:
        pose = self.graph.estimate(frame_bgr, crop)
        self.pairs.append((pose, self.direct.estimate(frame_bgr, crop)))
        return pose

    def close(self) -> None:
        self.graph.close()
        self.direct.close()


@pytest.fixture(scope="module")
def rally_pairs(shared_data: Path) -> list[tuple[Pose | None, Pose | None]]:
    """(graph, direct) poses for every pose call the player trackers make on a rally."""
    require(importlib.util.find_spec("ai_edge_litert") is not None, "ai-edge-litert")
    clips = {clip.name: clip for clip in aicup_clips(shared_data)}
    require(CLIP in clips, f"clip {CLIP} not found under {shared_data}")
    clip = clips[CLIP]
    size = (1280, 720)
    court = Court.from_mapping(clip.corners, size)
    both = {side: _BothEstimators() for side in ("near", "far")}
    # The tracker only calls estimate() and close().
    trackers = [
        PlayerTracker(court, side, size, estimator=cast(PoseEstimator, both[side])) for side in both
    ]
    try:
        for index, frame in iter_frames(clip.video, step=2, last_frame=LAST_FRAME):
            for tracker in trackers:
                tracker.update(frame, index, index / 30)
    finally:
        for tracker in trackers:
            tracker.close()
    return [pair for b in both.values() for pair in b.pairs]


def test_agrees_with_the_graph_on_player_crops(rally_pairs) -> None:
    calls = len(rally_pairs)
    assert calls >= 200
    graph_found = sum(graph is not None for graph, _ in rally_pairs)
    direct_found = sum(direct is not None for _, direct in rally_pairs)
    # Measured: 242 of 244 calls found by each (1235 and 1232 of 1247 on three other rallies).
    assert abs(graph_found - direct_found) <= 0.02 * calls
    distances = [
        np.linalg.norm(graph.landmarks[list(BODY)] - direct.landmarks[list(BODY)], axis=1)
        for graph, direct in rally_pairs
        if graph is not None and direct is not None
    ]
    assert len(distances) >= 0.9 * calls
    # Measured: median 0.9 (near) and 1.1 px (far), 90th percentile 2.6 and 3.9 px; 0.9-1.5
    # and 2.5-9 px on three other rallies.
    assert np.median(distances) < 4.0
    assert np.percentile(distances, 90) < 10.0


def test_tracking_region_is_mediapipes() -> None:
    # Body upright: the circle point straight above the centre, no rotation; the square's side
    # is 1.25x the circle's diameter.
    upright = roi_from_auxiliary(np.array([100.0, 200.0]), np.array([100.0, 120.0]))
    assert (upright.cx, upright.cy, upright.side) == pytest.approx((100, 200, 200))
    assert upright.rotation == pytest.approx(0)
    # Body lying with the head to the right: turned by 90 degrees to stand upright.
    lying = roi_from_auxiliary(np.array([100.0, 200.0]), np.array([180.0, 200.0]))
    assert lying.rotation == pytest.approx(np.pi / 2)
    # The input's top-centre (the head's side) lands on the circle's side of the body.
    top = lying.input_to_frame() @ [INPUT_SIZE / 2, 0, 1]
    assert top == pytest.approx([200, 200])


def test_input_corners_map_to_the_region_corners() -> None:
    roi = Roi(cx=300, cy=200, side=128)
    corners = np.array([[0, 0, 1], [INPUT_SIZE, INPUT_SIZE, 1]])
    assert corners @ roi.input_to_frame().T == pytest.approx(np.array([[236, 136], [364, 264]]))


@pytest.mark.parametrize(
    ("logit", "expected"),
    [
        # A confident 3x3 blob centred on cell (row 10, col 12): the point moves to its centre.
        (4.0, (12 * 4, 10 * 4)),
        # A blob nowhere near 0.5 confidence: the point stays.
        (-1.0, (50.0, 42.0)),
    ],
)
def test_heatmap_refinement(logit: float, expected: tuple[float, float]) -> None:
    heatmap = np.full((64, 64, 2), -20.0, dtype=np.float32)
    heatmap[9:12, 11:14, 0] = logit
    points = np.array([[50.0, 42.0], [300.0, 10.0]])  # the second one is off the heatmap
    refined = refine_from_heatmap(points, heatmap)
    assert refined[0] == pytest.approx(expected, abs=0.01)
    assert refined[1] == pytest.approx(points[1])
