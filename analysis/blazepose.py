"""Body pose of one person in a crop of a frame, with the BlazePose model run directly by LiteRT.

The same model as `analysis.pose.PoseEstimator` (the BlazePose "full" landmark model shipped in
the mediapipe wheel) and the same steps around it, without MediaPipe's graph: the region of
interest (ROI) of the previous call in tracking mode, heatmap refinement of the landmarks and
sigmoid visibilities. The segmentation head is cut off the model. A call costs about 40% less
CPU than one through the graph, and its landmarks lie within 1-2 px of the graph's.

One difference: there is no person detector. When no ROI from the previous call fits the
crop, the crop itself (squared) is the ROI, so a crop must be sized to the person, as the
player tracker's crops are. A person small in a large crop is missed where the graph's
detector would find it.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import cv2
import numpy as np

from analysis.pose import NUM_LANDMARKS, Pose, clip_box

# Where the model sits inside the mediapipe package.
MODEL_IN_PACKAGE = ("modules", "pose_landmark", "pose_landmark_full.tflite")
INPUT_SIZE = 256  # the model's square RGB input, values 0..1
# Output tensors kept. The model's other two, the 256x256 segmentation mask and the world
# landmarks, are unused here; the mask alone costs about 30% of the inference time (its
# decoder upsamples to full input resolution), so the model is pruned to these three.
LANDMARKS_OUTPUT = "Identity"  # (1, 195): 39 points x (x, y, z, visibility, presence)
PRESENCE_OUTPUT = "Identity_1"  # (1, 1): probability that a person fills the ROI
HEATMAP_OUTPUT = "Identity_3"  # (1, 64, 64, 39): per-point heatmap logits
KEPT_OUTPUTS = (LANDMARKS_OUTPUT, PRESENCE_OUTPUT, HEATMAP_OUTPUT)
# Points 0-32 are the landmarks, 33-34 the auxiliary points that place the next ROI (the
# body centre, and a point on the circle around the body); 35-38 are unused.
NUM_POINTS = 39
POINT_FIELDS = 5
BODY_CENTER, BODY_CIRCLE = 33, 34
VISIBILITY_FIELD = 3
# MediaPipe's ROI from the auxiliary points: a square of twice the circle's radius, scaled
# by 1.25, rotated so that the centre-to-circle direction points up.
ROI_SCALE = 1.25
# MediaPipe's heatmap refinement: a 7x7 window, applied where its peak is at least 0.5.
REFINE_KERNEL = 7
REFINE_MIN_CONFIDENCE = 0.5
# A previous ROI is reused only while it still describes the person in this crop. Followed
# players (the tracker moves its crop by little from frame to frame) measured: the previous
# ROI's centre within 0.2 crop sides of the crop's centre, its side 0.6-1.0 crop sides. A
# centre farther off means the crop went elsewhere (the tracker searching for a lost player);
# a side outside the range means a ROI shrunk onto a body part or spread over the background.
# Either way the crop itself is the better guess.
MAX_ROI_SHIFT = 0.35
MIN_ROI_SIDE, MAX_ROI_SIDE = 0.45, 1.2
# Crops smaller than this (pixels) are not worth a call.
MIN_CROP = 8
# One estimator per player, each on its own worker: more threads per call would only compete.
NUM_THREADS = 1


_NO_LITERT = "LiteRT is not installed: the package ai-edge-litert runs the BlazePose model"


class BlazePoseUnavailableError(RuntimeError):
    """The BlazePose model file or the LiteRT runtime (ai-edge-litert) is not installed."""


def default_model_path() -> Path:
    """The landmark model inside the installed mediapipe package, found without importing
    mediapipe: that import is slow and nothing else of it is needed here."""
    spec = importlib.util.find_spec("mediapipe")
    roots = (spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        path = Path(root, *MODEL_IN_PACKAGE)
        if path.is_file():
            return path
    raise BlazePoseUnavailableError(
        "BlazePose model not found: it ships in the mediapipe package (mediapipe==0.10.21)"
    )


@dataclass(frozen=True)
class Roi:
    """A rotated square of the frame that the model sees as its input."""

    cx: float
    cy: float
    side: float
    rotation: float = 0.0  # radians, clockwise in image coordinates

    def input_to_frame(self) -> np.ndarray:
        """(2, 3) affine map from model-input pixels to frame pixels."""
        k = self.side / INPUT_SIZE
        c, s = np.cos(self.rotation) * k, np.sin(self.rotation) * k
        half = INPUT_SIZE / 2
        return np.array(
            [[c, -s, self.cx - (c - s) * half], [s, c, self.cy - (s + c) * half]],
            dtype=np.float64,
        )

    def fits(self, crop_roi: Roi) -> bool:
        """Whether this ROI from the previous call still belongs to the person in a crop."""
        side = crop_roi.side
        return (
            abs(self.cx - crop_roi.cx) < MAX_ROI_SHIFT * side
            and abs(self.cy - crop_roi.cy) < MAX_ROI_SHIFT * side
            and MIN_ROI_SIDE * side < self.side < MAX_ROI_SIDE * side
        )


def roi_from_auxiliary(center: np.ndarray, circle: np.ndarray) -> Roi:
    """MediaPipe's tracking ROI from the two auxiliary points (frame pixels)."""
    dx, dy = circle - center
    radius = float(np.hypot(dx, dy))
    # Rotation that turns the centre-to-circle direction upright (MediaPipe's target angle of
    # 90 degrees, with y pointing down in images).
    rotation = np.pi / 2 - np.arctan2(-dy, dx)
    return Roi(float(center[0]), float(center[1]), 2 * radius * ROI_SCALE, float(rotation))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function: the model's visibility and heatmap outputs are logits."""
    return 1.0 / (1.0 + np.exp(-x))


def refine_from_heatmap(points: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """MediaPipe's landmark refinement: each point moves to the confidence-weighted mean cell
    of the 7x7 heatmap window around it, where that window's peak confidence is 0.5 or more.

    `points` (n, 2) in model-input pixels; `heatmap` (rows, cols, >= n) logits. Returns new
    points; points off the heatmap, or with no confident cell near, stay as they are.
    """
    rows, cols = heatmap.shape[:2]
    n = len(points)
    # Truncation toward zero, as MediaPipe's integer cast does.
    col = (points[:, 0] / INPUT_SIZE * cols).astype(int)
    row = (points[:, 1] / INPUT_SIZE * rows).astype(int)
    inside = (col >= 0) & (col < cols) & (row >= 0) & (row < rows)
    offsets = np.arange(REFINE_KERNEL) - (REFINE_KERNEL - 1) // 2
    win_rows, win_cols = row[:, None] + offsets, col[:, None] + offsets  # (n, k) each
    # Cells past the heatmap's edge count as zero confidence.
    valid = ((win_rows >= 0) & (win_rows < rows))[:, :, None] & (
        (win_cols >= 0) & (win_cols < cols)
    )[:, None, :]
    win_rows, win_cols = np.clip(win_rows, 0, rows - 1), np.clip(win_cols, 0, cols - 1)
    logits = heatmap[win_rows[:, :, None], win_cols[:, None, :], np.arange(n)[:, None, None]]
    confidence = sigmoid(logits.astype(np.float64)) * valid  # (n, k, k)
    total = confidence.sum(axis=(1, 2))
    refine = inside & (confidence.max(axis=(1, 2)) >= REFINE_MIN_CONFIDENCE) & (total > 0)
    total = np.where(total > 0, total, 1.0)
    mean_col = (confidence * win_cols[:, None, :]).sum(axis=(1, 2)) / total
    mean_row = (confidence * win_rows[:, :, None]).sum(axis=(1, 2)) / total
    out = points.astype(np.float64)
    out[refine, 0] = mean_col[refine] / cols * INPUT_SIZE
    out[refine, 1] = mean_row[refine] / rows * INPUT_SIZE
    return out


@functools.cache
def pruned_model(path: Path) -> bytes:
    """The model file cut down to the kept outputs and the operators that compute them.

    Built once per process and model file (about a second).
    """
    try:
        from ai_edge_litert.tools import flatbuffer_utils
    except ImportError as error:
        raise BlazePoseUnavailableError(_NO_LITERT) from error
    model = flatbuffer_utils.read_model(str(path))
    graph = model.subgraphs[0]
    outputs = {graph.tensors[t].name.decode(): t for t in graph.outputs}
    graph.outputs = [outputs[name] for name in KEPT_OUTPUTS]
    producer = {t: op for op in graph.operators for t in op.outputs}
    needed: set[int] = set()
    pending = list(graph.outputs)
    while pending:
        op = producer.get(pending.pop())
        if op is not None and id(op) not in needed:
            needed.add(id(op))
            pending.extend(int(t) for t in op.inputs if t >= 0)  # -1 marks an absent input
    graph.operators = [op for op in graph.operators if id(op) in needed]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


class BlazePoseEstimator:
    """The BlazePose landmark model for one tracked person, a stand-in for `PoseEstimator`.

    In tracking mode each call looks where the previous call found the person (as MediaPipe
    does), as long as that region still fits the crop. Not thread-safe. `close()` may be
    called more than once; also a context manager.
    """

    def __init__(
        self,
        *,
        tracking: bool = True,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        target_height: int = 320,
        model_path: Path | None = None,
    ) -> None:
        """`min_detection_confidence` and `target_height` are accepted for `PoseEstimator`'s
        sake and unused: there is no detector, and crops are warped straight to the model's
        input size. `min_tracking_confidence` is the least presence score of a pose, as in
        MediaPipe."""
        del min_detection_confidence, target_height
        path = model_path if model_path is not None else default_model_path()
        if not path.is_file():
            raise BlazePoseUnavailableError(f"BlazePose model not found: {path}")
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError as error:
            raise BlazePoseUnavailableError(_NO_LITERT) from error
        self._tracking = tracking
        self._min_presence = min_tracking_confidence
        self._interpreter: Any = Interpreter(
            model_content=pruned_model(path), num_threads=NUM_THREADS
        )
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = {d["name"]: d["index"] for d in self._interpreter.get_output_details()}
        self._landmarks, self._presence, self._heatmap = (outputs[n] for n in KEPT_OUTPUTS)
        self._tensor = np.empty((1, INPUT_SIZE, INPUT_SIZE, 3), dtype=np.float32)
        self._previous: Roi | None = None

    def estimate(
        self, frame_bgr: np.ndarray, crop: tuple[int, int, int, int] | None = None
    ) -> Pose | None:
        """Pose of the person in `crop` (x0, y0, x1, y1 in frame pixels; None = the whole
        frame), or None. Landmarks come back in full-frame pixels."""
        if self._interpreter is None:
            raise RuntimeError("BlazePoseEstimator is closed")
        h, w = frame_bgr.shape[:2]
        full = (0, 0, w, h) if crop is None else crop
        x0, y0, x1, y1 = clip_box(full, w, h)
        if x1 - x0 < MIN_CROP or y1 - y0 < MIN_CROP:
            return None
        roi = self._roi(full)
        # The model sees the crop only, as the graph does: a ROI that reaches past the crop
        # finds black there, not the other player or the crowd.
        to_frame = roi.input_to_frame()
        self._run(frame_bgr[y0:y1, x0:x1], to_frame - [[0, 0, x0], [0, 0, y0]])
        pose, self._previous = self._decode(to_frame)
        return pose

    def close(self) -> None:
        self._interpreter = None
        self._previous = None

    def __enter__(self) -> BlazePoseEstimator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _roi(self, crop: tuple[float, float, float, float]) -> Roi:
        # The crop as given, not as clipped: the tracker's crops are squares, and one that
        # hangs over the frame's edge keeps its centre and size.
        x0, y0, x1, y1 = crop
        crop_roi = Roi((x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0))
        previous = self._previous if self._tracking else None
        return previous if previous is not None and previous.fits(crop_roi) else crop_roi

    def _run(self, patch: np.ndarray, input_to_patch: np.ndarray) -> None:
        warped = cv2.warpAffine(
            patch,
            input_to_patch,
            (INPUT_SIZE, INPUT_SIZE),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        rgb = cv2.cvtColor(warped, cv2.COLOR_BGR2RGB)
        np.multiply(rgb, np.float32(1 / 255), out=self._tensor[0])
        self._interpreter.set_tensor(self._input, self._tensor)
        self._interpreter.invoke()

    def _decode(self, to_frame: np.ndarray) -> tuple[Pose | None, Roi | None]:
        # The presence output ends in the model's own sigmoid: already a probability.
        presence = float(self._interpreter.get_tensor(self._presence).ravel()[0])
        if presence < self._min_presence:
            return None, None
        raw = self._interpreter.get_tensor(self._landmarks).reshape(NUM_POINTS, POINT_FIELDS)
        heatmap = self._interpreter.get_tensor(self._heatmap)[0]
        points = refine_from_heatmap(raw[:, :2], heatmap)
        points = points @ to_frame[:, :2].T + to_frame[:, 2]
        visibility = sigmoid(raw[:NUM_LANDMARKS, VISIBILITY_FIELD].astype(np.float64))
        pose = Pose(landmarks=points[:NUM_LANDMARKS], visibility=visibility)
        return pose, roi_from_auxiliary(points[BODY_CENTER], points[BODY_CIRCLE])
