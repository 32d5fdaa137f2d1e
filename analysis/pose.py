"""Body pose of one person in a crop of a frame, with MediaPipe Pose.

This is the only module that touches MediaPipe. Landmarks leave it as plain numpy arrays in
full-frame pixels, in MediaPipe's 33-landmark order.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

import cv2
import numpy as np

NUM_LANDMARKS = 33
NOSE = 0
LEFT_SHOULDER, RIGHT_SHOULDER = 11, 12
LEFT_ELBOW, RIGHT_ELBOW = 13, 14
LEFT_WRIST, RIGHT_WRIST = 15, 16
LEFT_HIP, RIGHT_HIP = 23, 24
LEFT_KNEE, RIGHT_KNEE = 25, 26
LEFT_ANKLE, RIGHT_ANKLE = 27, 28
LEFT_HEEL, RIGHT_HEEL = 29, 30
LEFT_FOOT_INDEX, RIGHT_FOOT_INDEX = 31, 32

# MediaPipe indices of the 17 COCO keypoints, in COCO order.
COCO_TO_MEDIAPIPE = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)

# Body landmarks used for the box: the face points add nothing beyond the nose, and the hand
# points (17-22) are the least reliable ones.
_BODY = (NOSE, *range(11, 17), *range(23, 33))
_FEET = ((LEFT_ANKLE, LEFT_HEEL, LEFT_FOOT_INDEX), (RIGHT_ANKLE, RIGHT_HEEL, RIGHT_FOOT_INDEX))
# Labelled soles sit below MediaPipe's lowest foot points by 4-7% of the nose-to-foot height
# (measured on broadcast footage).
SOLE_OFFSET = 0.05


@dataclass(frozen=True)
class Pose:
    """One person's landmarks in full-frame pixels."""

    landmarks: np.ndarray  # (33, 2) full-frame pixels, MediaPipe landmark order
    visibility: np.ndarray  # (33,) 0..1, MediaPipe's confidence that the point is in view

    def __post_init__(self) -> None:
        if self.landmarks.shape != (NUM_LANDMARKS, 2):
            raise ValueError(f"expected landmarks of shape (33, 2), got {self.landmarks.shape}")
        if self.visibility.shape != (NUM_LANDMARKS,):
            raise ValueError(f"expected visibility of shape (33,), got {self.visibility.shape}")

    def point(self, index: int) -> np.ndarray:
        return self.landmarks[index].copy()

    def feet(self) -> np.ndarray:
        """(2, 2): where the left and the right foot meet the ground, in pixels.

        Ankles sit above the ground, so each foot counts at its ankle's x and at the lowest
        (largest y) of its ankle, heel and toe points; MediaPipe still puts those a little
        above the soles, by a share of the body height.
        """
        lowest = self._lowest_foot_points()
        body = max(0.0, float(lowest[:, 1].mean() - self.landmarks[NOSE, 1]))
        return lowest + [0.0, SOLE_OFFSET * body]

    def foot_point(self) -> np.ndarray:
        """Ground position of the body: midway between the feet, on the soles."""
        return self.feet().mean(axis=0)

    def hip_center(self) -> np.ndarray:
        return self.landmarks[[LEFT_HIP, RIGHT_HIP]].mean(axis=0)

    def shoulder_center(self) -> np.ndarray:
        return self.landmarks[[LEFT_SHOULDER, RIGHT_SHOULDER]].mean(axis=0)

    def wrists(self) -> np.ndarray:
        """(2, 2): left and right wrist pixels."""
        return self.landmarks[[LEFT_WRIST, RIGHT_WRIST]].copy()

    def box(self) -> tuple[float, float, float, float]:
        """x0, y0, x1, y1 around the body landmarks."""
        pts = self.landmarks[list(_BODY)]
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)

    def height_px(self) -> float:
        """Vertical extent in pixels from the nose down to the feet."""
        return float(self._lowest_foot_points()[:, 1].mean() - self.landmarks[NOSE, 1])

    def body_length_px(self) -> float:
        """Shoulders to hips to knees to ankles, along the limbs: a size that does not shrink
        when the body leans or lunges, as its vertical extent does."""
        lm = self.landmarks
        torso = np.linalg.norm(lm[[LEFT_SHOULDER, RIGHT_SHOULDER]].mean(axis=0) - self.hip_center())
        thighs = np.linalg.norm(lm[[LEFT_HIP, RIGHT_HIP]] - lm[[LEFT_KNEE, RIGHT_KNEE]], axis=1)
        shins = np.linalg.norm(lm[[LEFT_KNEE, RIGHT_KNEE]] - lm[[LEFT_ANKLE, RIGHT_ANKLE]], axis=1)
        return float(torso + thighs.mean() + shins.mean())

    def mean_visibility(self) -> float:
        return float(self.visibility[list(_BODY)].mean())

    def _lowest_foot_points(self) -> np.ndarray:
        out = np.empty((2, 2))
        for i, (ankle, heel, toe) in enumerate(_FEET):
            out[i] = self.landmarks[ankle, 0], self.landmarks[[ankle, heel, toe], 1].max()
        return out


class Estimator(Protocol):
    """Finds one person's pose in a crop of a frame; one instance per tracked person."""

    def estimate(
        self, frame_bgr: np.ndarray, crop: tuple[int, int, int, int] | None = None
    ) -> Pose | None: ...

    def close(self) -> None: ...


class PoseEstimator:
    """One MediaPipe Pose instance: one per tracked person, so that its tracking mode follows
    that person from call to call.

    Not thread-safe. `close()` may be called more than once; also a context manager.
    """

    def __init__(
        self,
        *,
        tracking: bool = True,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        target_height: int = 320,
    ) -> None:
        # Imported here so that importing this module stays cheap for code that only needs Pose.
        import mediapipe as mp

        self._target_height = target_height
        # model_complexity=1 is the only model shipped in the wheel (0 and 2 are downloaded at
        # run time). Landmark smoothing is off: crops move from frame to frame, and smoothing in
        # crop coordinates would drag the landmarks behind the player.
        self._pose = mp.solutions.pose.Pose(
            static_image_mode=not tracking,
            model_complexity=1,
            smooth_landmarks=False,
            enable_segmentation=False,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )
        self._closed = False

    def estimate(
        self, frame_bgr: np.ndarray, crop: tuple[int, int, int, int] | None = None
    ) -> Pose | None:
        """Pose of the one person MediaPipe finds in `crop` (x0, y0, x1, y1 in frame pixels;
        None = the whole frame), or None. Small crops are upscaled to `target_height` first.
        Landmarks come back in full-frame pixels."""
        if self._closed:
            raise RuntimeError("PoseEstimator is closed")
        h, w = frame_bgr.shape[:2]
        x0, y0, x1, y1 = (0, 0, w, h) if crop is None else clip_box(crop, w, h)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        patch = frame_bgr[y0:y1, x0:x1]
        scale = self._target_height / (y1 - y0)
        if scale > 1.0:
            patch = cv2.resize(patch, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        rgb = cv2.cvtColor(patch, cv2.COLOR_BGR2RGB)
        result = self._pose.process(rgb)
        if result.pose_landmarks is None:
            return None
        marks = result.pose_landmarks.landmark
        norm = np.array([(m.x, m.y) for m in marks], dtype=np.float64)
        vis = np.array([m.visibility for m in marks], dtype=np.float64)
        pixels = norm * [x1 - x0, y1 - y0] + [x0, y0]
        return Pose(landmarks=pixels, visibility=vis)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._pose.close()

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def clip_box(crop: tuple[int, int, int, int], width: int, height: int) -> tuple[int, int, int, int]:
    """The crop's integer box, cut to the frame."""
    x0, y0, x1, y1 = (int(round(v)) for v in crop)
    return max(0, x0), max(0, y0), min(width, x1), min(height, y1)
