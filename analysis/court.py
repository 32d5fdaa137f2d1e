"""Badminton court geometry: image pixels <-> court metres through a homography.

Court coordinates are metres with the origin at the far-left outer doubles corner,
x across the court (0..6.10) and y along it toward the camera (0..13.40).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

COURT_WIDTH = 6.10
COURT_LENGTH = 13.40
NET_Y = COURT_LENGTH / 2
SINGLES_MARGIN = (COURT_WIDTH - 5.18) / 2  # singles side line, inside each doubles side line
SHORT_SERVICE_FROM_NET = 1.98
DOUBLES_LONG_SERVICE_FROM_BACK = 0.76

CORNER_NAMES = ("far_left", "far_right", "near_right", "near_left")
# The same corners in court metres, in CORNER_NAMES order.
CORNERS_M = np.array(
    [[0.0, 0.0], [COURT_WIDTH, 0.0], [COURT_WIDTH, COURT_LENGTH], [0.0, COURT_LENGTH]],
    dtype=np.float64,
)


class CourtError(ValueError):
    """The court corners given cannot describe a court."""


@dataclass(frozen=True)
class Court:
    """A court seen by one camera: its 4 outer corners in the image and the homographies."""

    corners: np.ndarray  # (4, 2) image pixels, CORNER_NAMES order
    to_court: np.ndarray  # 3x3 homography, image pixels -> court metres
    to_image: np.ndarray  # 3x3 homography, court metres -> image pixels

    @classmethod
    def from_corners(
        cls, corners: Sequence[Sequence[float]], frame_size: tuple[int, int] | None = None
    ) -> Court:
        """Builds a court from 4 image points: far-left, far-right, near-right, near-left.

        `frame_size` is (width, height); when given, every corner must lie inside the frame
        (with a small tolerance for corners a pixel or two off the edge).
        """
        pts = _as_points(corners)
        _check_quadrilateral(pts)
        if frame_size is not None:
            _check_inside_frame(pts, frame_size)
        to_court = cv2.getPerspectiveTransform(pts.astype(np.float32), CORNERS_M.astype(np.float32))
        to_image = np.linalg.inv(to_court)
        return cls(corners=pts, to_court=to_court, to_image=to_image / to_image[2, 2])

    @classmethod
    def from_mapping(
        cls, corners: Mapping[str, Sequence[float]], frame_size: tuple[int, int] | None = None
    ) -> Court:
        """Builds a court from `{"far_left": [x, y], "far_right": ..., ...}`."""
        missing = [name for name in CORNER_NAMES if name not in corners]
        if missing:
            raise CourtError(f"court is missing corner(s): {', '.join(missing)}")
        return cls.from_corners([corners[name] for name in CORNER_NAMES], frame_size)

    @classmethod
    def parse(cls, text: str, frame_size: tuple[int, int] | None = None) -> Court:
        """Parses 8 comma-separated numbers, a JSON object, or the path of a JSON file."""
        text = text.strip()
        if text.startswith("{"):
            return cls.from_mapping(_load_json(text), frame_size)
        path = Path(text)
        if path.suffix.lower() == ".json" or path.is_file():
            if not path.is_file():
                raise CourtError(f"court file not found: {text}")
            return cls.from_mapping(_load_json(path.read_text()), frame_size)
        try:
            numbers = [float(part) for part in text.split(",")]
        except ValueError:
            raise CourtError(
                "court must be 8 comma-separated numbers (far-left x,y, far-right, near-right, "
                f"near-left) or a JSON file, got {text!r}"
            ) from None
        if len(numbers) != 8:
            raise CourtError(f"court needs 8 numbers (4 corners x,y), got {len(numbers)}")
        return cls.from_corners(np.reshape(numbers, (4, 2)), frame_size)

    def as_dict(self) -> dict[str, list[float]]:
        return {
            name: [round(float(x), 1), round(float(y), 1)]
            for name, (x, y) in zip(CORNER_NAMES, self.corners)
        }

    def image_to_court(self, points: np.ndarray | Sequence) -> np.ndarray:
        """Maps (N, 2) image pixels (or one point) to court metres."""
        return _apply(self.to_court, points)

    def court_to_image(self, points: np.ndarray | Sequence) -> np.ndarray:
        """Maps (N, 2) court metres (or one point) to image pixels."""
        return _apply(self.to_image, points)

    def pixels_per_metre(self, court_xy: Sequence[float]) -> float:
        """Local image scale near a court point (mean of the x and y directions)."""
        x, y = court_xy
        pts = self.court_to_image([[x, y], [x + 0.5, y], [x, y + 0.5]])
        return float((np.linalg.norm(pts[1] - pts[0]) + np.linalg.norm(pts[2] - pts[0])) / 1.0)


def in_court(court_xy: Sequence[float], margin: float = 0.0) -> bool:
    """Whether a court point lies on the court, `margin` metres of run-off allowed."""
    x, y = court_xy
    return -margin <= x <= COURT_WIDTH + margin and -margin <= y <= COURT_LENGTH + margin


def half_of(court_xy: Sequence[float]) -> str:
    """`near` (the camera's side of the net) or `far`."""
    return "near" if court_xy[1] >= NET_Y else "far"


def _apply(h: np.ndarray, points: np.ndarray | Sequence) -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    single = pts.ndim == 1
    pts = pts.reshape(-1, 2)
    if len(pts) == 0:
        return pts.copy()
    homogeneous = np.hstack([pts, np.ones((len(pts), 1))]) @ h.T
    out = homogeneous[:, :2] / homogeneous[:, 2:3]
    return out[0] if single else out


def _as_points(corners: Sequence[Sequence[float]]) -> np.ndarray:
    try:
        pts = np.asarray(corners, dtype=np.float64)
    except (TypeError, ValueError):
        raise CourtError("court corners must be numbers") from None
    if pts.shape != (4, 2):
        raise CourtError(f"court needs 4 corner points (x, y), got shape {pts.shape}")
    if not np.all(np.isfinite(pts)):
        raise CourtError("court corners must be finite numbers")
    return pts


def _check_quadrilateral(pts: np.ndarray) -> None:
    # A convex, non-self-intersecting quadrilateral has edge cross products of one sign.
    crosses = []
    for i in range(4):
        a, b, c = pts[i], pts[(i + 1) % 4], pts[(i + 2) % 4]
        crosses.append(float(np.cross(b - a, c - b)))
    area = 0.5 * abs(sum(float(np.cross(pts[i], pts[(i + 1) % 4])) for i in range(4)))
    if area < 100.0 or min(abs(c) for c in crosses) < 1e-6:
        raise CourtError("court corners are degenerate (three in a line, or no area)")
    if not (all(c > 0 for c in crosses) or all(c < 0 for c in crosses)):
        raise CourtError(
            "court corners do not form a convex quadrilateral: give them in the order "
            "far-left, far-right, near-right, near-left"
        )
    far_y = (pts[0, 1] + pts[1, 1]) / 2
    near_y = (pts[2, 1] + pts[3, 1]) / 2
    if near_y <= far_y:
        raise CourtError("the near corners must be lower in the image than the far corners")
    if pts[0, 0] >= pts[1, 0] or pts[3, 0] >= pts[2, 0]:
        raise CourtError("the left corners must be left of the right corners")


def _check_inside_frame(pts: np.ndarray, frame_size: tuple[int, int]) -> None:
    width, height = frame_size
    tolerance = 0.02 * max(width, height)
    for name, (x, y) in zip(CORNER_NAMES, pts):
        if not (-tolerance <= x <= width + tolerance and -tolerance <= y <= height + tolerance):
            raise CourtError(
                f"court corner {name} ({x:.0f}, {y:.0f}) is outside the {width}x{height} frame"
            )


def _load_json(text: str) -> Mapping:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CourtError(f"court JSON is not valid: {exc.msg}") from None
    if not isinstance(value, Mapping):
        raise CourtError(
            "court JSON must be an object with far_left, far_right, near_right, near_left"
        )
    return value
