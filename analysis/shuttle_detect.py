"""Shuttlecock candidates in one frame: small blobs that are brighter than in both neighbours.

A shuttle in flight is a few pixels, white, and moves more than its own size between frames,
so a pixel where the current frame is brighter than both the previous and the next frame
marks it well (three-frame differencing). Players make large blobs of the same kind; those
are dropped by size, and what is left is scored by a tiny network (one hidden layer of 16)
on eight blob features and, when the scorer has weights for them, the small patches of the
grey frame and of the motion map around the blob's peak (`analysis/models/shuttle_candidates.json`,
written by `tools/shuttle_train.py`). Choosing among the candidates over time is the tracker's job
(`analysis/shuttle.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

MODEL_PATH = Path(__file__).resolve().parent / "models" / "shuttle_candidates.json"

# Wider frames are first shrunk to this width: the shuttle then has the size the scorer was
# trained on (720p broadcasts), and 1080p costs little more than 720p.
MAX_WIDTH = 1280
# The motion map is max-pooled to about this width (2x at 720p).
POOLED_WIDTH = 640
# Minimum brightness gain (grey levels) over both neighbouring frames.
MOTION_THRESHOLD = 10
# Larger blobs (in pooled pixels) are players, rackets swinging, or the crowd.
MAX_BLOB_SIZE = 16
# Thumbnails for the duplicate-frame test.
THUMB_SIZE = (160, 90)
# Repeats are told only where frames typically differ in at least this many thumbnail pixels.
MIN_TYPICAL_CHANGE = 20

# Half-side of the square patches (working pixels) of the grey frame and of the motion map
# around a candidate's peak that the scorer may look at: the shuttle is a small bright dot
# with a streak of motion, most clutter is an edge or a corner of something larger.
PATCH_RADIUS = 5
PATCH_SIDE = 2 * PATCH_RADIUS + 1
PATCH_LENGTH = 2 * PATCH_SIDE * PATCH_SIDE  # grey, then motion, row by row
# Grey patches are scaled by their spread, but at least this much (flat patches stay flat).
PATCH_MIN_SPREAD = 4.0

FEATURE_NAMES = (
    "log_peak",  # log of the peak brightness gain / 10
    "log_area",  # log(1 + blob area), pooled pixels
    "short_side",  # blob bounding box, pooled pixels / 4
    "long_side",  # ... / 8
    "crowding_near",  # share of moving pixels in a thin ring around the blob
    "crowding_far",  # ... in a wider ring
    "brightness",  # grey level at the peak / 100
    "saturation",  # max - min of B, G, R at the peak / 100
)


@dataclass(frozen=True)
class Candidates:
    """Shuttle candidates of one frame, best first."""

    xy: np.ndarray  # (N, 2) image pixels
    score: np.ndarray  # (N,) log-odds of being the shuttle
    features: np.ndarray  # (N, len(FEATURE_NAMES))
    patches: np.ndarray | None = None  # (N, PATCH_LENGTH) uint8 when the detector keeps them

    @classmethod
    def empty(cls, with_patches: bool = False) -> Candidates:
        patches = np.zeros((0, PATCH_LENGTH), np.uint8) if with_patches else None
        return cls(np.zeros((0, 2)), np.zeros(0), np.zeros((0, len(FEATURE_NAMES))), patches)

    def __len__(self) -> int:
        return len(self.score)


@dataclass(frozen=True)
class Prepared:
    """What the detector keeps of a frame: grey image and a thumbnail."""

    gray: np.ndarray
    thumb: np.ndarray


def work_scale(frame_size: tuple[int, int]) -> float:
    """Original pixels per working pixel (1 up to MAX_WIDTH wide, more for wider frames)."""
    return max(1.0, frame_size[0] / MAX_WIDTH)


def prepare(frame_bgr: np.ndarray) -> Prepared:
    """Grey-scale copy of a BGR frame, at most MAX_WIDTH wide, and a small thumbnail."""
    if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
        raise ValueError(
            f"expected a uint8 BGR frame (H, W, 3), got {frame_bgr.dtype} {frame_bgr.shape}"
        )
    gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
    scale = work_scale((frame_bgr.shape[1], frame_bgr.shape[0]))
    if scale > 1.0:
        size = (round(gray.shape[1] / scale), round(gray.shape[0] / scale))
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_LINEAR)  # AREA is 5x slower
    thumb = cv2.resize(gray, THUMB_SIZE, interpolation=cv2.INTER_LINEAR)
    return Prepared(gray, thumb)


def changed_pixels(a: Prepared, b: Prepared) -> int:
    """How many thumbnail pixels differ visibly between two frames."""
    return int(np.count_nonzero(cv2.absdiff(a.thumb, b.thumb) > 6))


def normalise_patches(patches: np.ndarray) -> np.ndarray:
    """Raw (N, PATCH_LENGTH) patches as the scorer takes them: the grey patch less its mean
    over its spread, the motion patch over its peak (so neither depends on exposure)."""
    half = PATCH_LENGTH // 2
    out = patches.astype(np.float64)
    grey, motion = out[:, :half], out[:, half:]
    grey -= grey.mean(axis=1, keepdims=True)
    grey /= np.maximum(grey.std(axis=1, keepdims=True), PATCH_MIN_SPREAD)
    motion /= np.maximum(motion.max(axis=1, keepdims=True), 1.0)
    return out


class CandidateScorer:
    """A one-hidden-layer network over FEATURE_NAMES giving the log-odds of "shuttle".

    With `w1p` the hidden layer also sees the candidate's normalised patches
    (`normalise_patches`). Its parameters are a small JSON file written by
    `tools/shuttle_train.py`.
    """

    def __init__(
        self,
        mean: np.ndarray,
        scale: np.ndarray,
        w1: np.ndarray,
        b1: np.ndarray,
        w2: np.ndarray,
        b2: float,
        w1p: np.ndarray | None = None,
    ) -> None:
        n = len(FEATURE_NAMES)
        if mean.shape != (n,) or scale.shape != (n,) or w1.shape[0] != n:
            raise ValueError(f"scorer expects {n} features, got mean {mean.shape}, w1 {w1.shape}")
        if b1.shape != (w1.shape[1],) or w2.shape != (w1.shape[1],):
            raise ValueError(
                f"scorer layer shapes do not agree: {w1.shape}, {b1.shape}, {w2.shape}"
            )
        if w1p is not None and w1p.shape != (PATCH_LENGTH, w1.shape[1]):
            raise ValueError(
                f"scorer patch weights are {w1p.shape}, expected {(PATCH_LENGTH, w1.shape[1])}"
            )
        self.mean, self.scale = mean, scale
        self.w1, self.b1, self.w2, self.b2 = w1, b1, w2, b2
        self.w1p = w1p

    @property
    def uses_patches(self) -> bool:
        return self.w1p is not None

    @classmethod
    def from_dict(cls, data: dict) -> CandidateScorer:
        if list(data["features"]) != list(FEATURE_NAMES):
            raise ValueError(f"scorer features {data['features']} are not {list(FEATURE_NAMES)}")

        def arr(key: str) -> np.ndarray:
            return np.asarray(data[key], dtype=np.float64)

        w1p = arr("w1p") if data.get("w1p") is not None else None
        return cls(
            arr("mean"), arr("scale"), arr("w1"), arr("b1"), arr("w2"), float(data["b2"]), w1p
        )

    def to_dict(self) -> dict:
        def r(a: np.ndarray) -> list:
            return np.round(a, 6).tolist()

        return {
            "features": list(FEATURE_NAMES),
            "mean": r(self.mean),
            "scale": r(self.scale),
            "w1": r(self.w1),
            "b1": r(self.b1),
            "w2": r(self.w2),
            "b2": round(float(self.b2), 6),
            "w1p": None if self.w1p is None else r(self.w1p),
        }

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> CandidateScorer:
        return cls.from_dict(json.loads(path.read_text()))

    def __call__(self, features: np.ndarray, patches: np.ndarray | None = None) -> np.ndarray:
        """Log-odds per candidate; `patches` (raw, uint8) are needed when the scorer uses them."""
        pre = (features - self.mean) / self.scale @ self.w1 + self.b1
        if self.w1p is not None:
            if patches is None:
                raise ValueError("this scorer also needs the candidates' patches")
            pre += normalise_patches(patches) @ self.w1p
        return np.maximum(pre, 0.0) @ self.w2 + self.b2


@lru_cache(maxsize=1)
def default_scorer() -> CandidateScorer:
    return CandidateScorer.load()


class CandidateDetector:
    """Finds shuttle candidates in a frame given its neighbours (three-frame differencing)."""

    def __init__(
        self,
        frame_size: tuple[int, int],
        scorer: CandidateScorer | None = None,
        max_candidates: int | None = 8,
        keep_patches: bool = False,
    ) -> None:
        """`max_candidates` keeps the best few per frame (None keeps all, for training);
        `keep_patches` hands each candidate's raw patches out too (for training)."""
        self.keep_patches = keep_patches
        self.scale = work_scale(frame_size)
        self.pool = max(1, round(frame_size[0] / self.scale / POOLED_WIDTH))
        self.scorer = scorer or default_scorer()
        self.max_candidates = max_candidates
        self._kernel = np.ones((self.pool + 1, self.pool + 1), np.uint8)

    def detect(
        self,
        prev: np.ndarray,
        cur: np.ndarray,
        nxt: np.ndarray,
        cur_bgr: np.ndarray | None = None,
    ) -> Candidates:
        """Candidates in `cur`, brighter than in both `prev` and `nxt` (grey frames from
        `prepare`); positions are pixels of the original frame."""
        motion = cv2.min(cv2.subtract(cur, prev), cv2.subtract(cur, nxt))
        pooled = self._pool(motion)
        _, mask = cv2.threshold(pooled, MOTION_THRESHOLD - 1, 1, cv2.THRESH_BINARY)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if not contours:
            return Candidates.empty(self.keep_patches)
        boxes = np.array([cv2.boundingRect(c) for c in contours], dtype=np.int64)
        small = (boxes[:, 2] <= MAX_BLOB_SIZE) & (boxes[:, 3] <= MAX_BLOB_SIZE)
        boxes = boxes[small]
        if len(boxes) == 0:
            return Candidates.empty(self.keep_patches)
        peaks, values = _box_peaks(pooled, boxes)
        features = self._features(boxes, peaks, values, mask, cur, cur_bgr)
        patches = None
        if self.keep_patches or self.scorer.uses_patches:
            patches = _patches(cur, motion, peaks * self.pool)
        scores = self.scorer(features, patches)
        order = np.argsort(-scores)[: self.max_candidates or len(scores)]
        xy = self._refine(motion, peaks[order])
        if self.scale > 1.0:  # working pixel centres back to original pixels
            xy = (xy + 0.5) * self.scale - 0.5
        kept = patches[order] if self.keep_patches else None
        return Candidates(xy, scores[order], features[order], kept)

    def _pool(self, motion: np.ndarray) -> np.ndarray:
        if self.pool == 1:
            return motion
        k = self.pool
        return np.ascontiguousarray(cv2.dilate(motion, self._kernel)[::k, ::k])

    def _features(
        self,
        boxes: np.ndarray,
        peaks: np.ndarray,
        values: np.ndarray,
        mask: np.ndarray,
        gray: np.ndarray,
        bgr: np.ndarray | None,
    ) -> np.ndarray:
        x, y, w, h = boxes.T
        integral = cv2.integral(mask)
        area = _box_sum(integral, x, y, x + w, y + h)
        near_sum, near_area = _ring(integral, x, y, w, h, 6)
        far_sum, far_area = _ring(integral, x, y, w, h, 16)
        crowd_near = (near_sum - area) / np.maximum(1, near_area - w * h)
        crowd_far = (far_sum - near_sum) / np.maximum(1, far_area - near_area)
        # Grey level and colour at the peak, in the working and the original frame.
        px = np.clip(peaks[:, 0] * self.pool, 0, gray.shape[1] - 1)
        py = np.clip(peaks[:, 1] * self.pool, 0, gray.shape[0] - 1)
        bright = gray[py, px].astype(np.float64)
        if bgr is not None:
            ox = np.clip(np.round(px * self.scale).astype(np.int64), 0, bgr.shape[1] - 1)
            oy = np.clip(np.round(py * self.scale).astype(np.int64), 0, bgr.shape[0] - 1)
            colour = bgr[oy, ox].astype(np.float64)
            saturation = colour.max(axis=1) - colour.min(axis=1)
        else:
            saturation = np.zeros(len(px))
        return np.column_stack(
            [
                np.log(np.maximum(values, 1) / 10.0),
                np.log1p(area),
                np.minimum(w, h) / 4.0,
                np.maximum(w, h) / 8.0,
                crowd_near,
                crowd_far,
                bright / 100.0,
                saturation / 100.0,
            ]
        )

    def _refine(self, motion: np.ndarray, peaks: np.ndarray) -> np.ndarray:
        """Sub-pixel position: centroid of the strong motion around each pooled peak."""
        r = self.pool + 1
        height, width = motion.shape
        # Patches are kept inside the image; a shuttle at the very border moves by <= r px.
        cx = np.clip(peaks[:, 0] * self.pool, r, width - r - 1)
        cy = np.clip(peaks[:, 1] * self.pool, r, height - r - 1)
        offsets = np.arange(-r, r + 1)
        patch = motion[
            cy[:, None, None] + offsets[None, :, None], cx[:, None, None] + offsets[None, None, :]
        ].astype(np.float32)
        patch = np.maximum(patch - 0.5 * patch.max(axis=(1, 2), keepdims=True), 0)
        total = np.maximum(patch.sum(axis=(1, 2)), 1e-6)
        dx = (patch.sum(axis=1) @ offsets) / total
        dy = (patch.sum(axis=2) @ offsets) / total
        return np.column_stack([cx + dx, cy + dy])


_OFFSETS = np.arange(-PATCH_RADIUS, PATCH_RADIUS + 1)


def _patches(gray: np.ndarray, motion: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(N, PATCH_LENGTH) uint8: the grey and motion patches around working pixels `centres`
    (x, y), shifted inside the image at its border."""
    height, width = gray.shape
    cx = np.clip(centres[:, 0], PATCH_RADIUS, width - PATCH_RADIUS - 1)
    cy = np.clip(centres[:, 1], PATCH_RADIUS, height - PATCH_RADIUS - 1)
    rows = (cy[:, None] + _OFFSETS)[:, :, None]
    cols = (cx[:, None] + _OFFSETS)[:, None, :]
    n = len(centres)
    return np.hstack([gray[rows, cols].reshape(n, -1), motion[rows, cols].reshape(n, -1)])


def _box_peaks(image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    peaks = np.empty((len(boxes), 2), dtype=np.int64)
    values = np.empty(len(boxes))
    for i, (x, y, w, h) in enumerate(boxes):
        _, values[i], _, (px, py) = cv2.minMaxLoc(image[y : y + h, x : x + w])
        peaks[i] = (x + px, y + py)
    return peaks, values


def _box_sum(integral: np.ndarray, x0, y0, x1, y1) -> np.ndarray:
    return (integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]).astype(
        np.float64
    )


def _ring(integral: np.ndarray, x, y, w, h, r: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum and area of the box grown by r on each side, clipped to the image."""
    height, width = integral.shape[0] - 1, integral.shape[1] - 1
    x0, y0 = np.maximum(0, x - r), np.maximum(0, y - r)
    x1, y1 = np.minimum(width, x + w + r), np.minimum(height, y + h + r)
    return _box_sum(integral, x0, y0, x1, y1), ((x1 - x0) * (y1 - y0)).astype(np.float64)


@dataclass(frozen=True)
class Triplet:
    """A distinct frame ready for detection, with its distinct neighbours."""

    frame: int
    time: float
    prev: np.ndarray
    cur: np.ndarray
    next: np.ndarray
    cur_bgr: np.ndarray


class DistinctFrames:
    """Drops repeated frames and pairs each distinct frame with its distinct neighbours.

    Broadcasts converted from 25 to 30 fps repeat every sixth frame; differencing against a
    repeat shows no motion at all, so repeats are recognised (far fewer changed pixels than
    in the recent distinct frames) and skipped. Each distinct frame is handed out once the next
    distinct frame has arrived, i.e. one distinct frame late.
    """

    def __init__(self, history: int = 12, ratio: float = 0.2) -> None:
        self._history = history
        self._ratio = ratio
        self._changes: list[int] = []
        # (frame, time, prepared, bgr) of the last two distinct frames.
        self._recent: list[tuple[int, float, Prepared, np.ndarray]] = []

    def push(self, frame: int, time: float, bgr: np.ndarray) -> tuple[bool, Triplet | None]:
        """Feeds a frame: (is it a repeat of the last distinct frame, triplet ready or None)."""
        prepared = prepare(bgr)
        if self._recent:
            changed = changed_pixels(self._recent[-1][2], prepared)
            typical = float(np.median(self._changes)) if self._changes else 0.0
            # In a still scene (a few changed pixels at most) repeats cannot be told apart
            # from a shuttle flying alone; a missed repeat costs nothing there anyway.
            if typical >= MIN_TYPICAL_CHANGE and changed < self._ratio * typical:
                return True, None
            self._changes.append(changed)
            del self._changes[: -self._history]
        self._recent.append((frame, time, prepared, bgr))
        if len(self._recent) < 2:
            return False, None
        ready = self._triplet(-2)
        del self._recent[:-2]
        return False, ready

    def finish(self) -> Triplet | None:
        """The last distinct frame (differenced against its predecessor only)."""
        if not self._recent:
            return None
        ready = self._triplet(-1)
        self._recent.clear()
        return ready

    def _triplet(self, i: int) -> Triplet:
        frame, time, cur, bgr = self._recent[i]
        # The first and last frames lack a neighbour: use the one they have on both sides.
        prev = self._recent[i - 1][2] if i - 1 >= -len(self._recent) else self._recent[i + 1][2]
        nxt = self._recent[i + 1][2] if i + 1 < 0 else prev
        return Triplet(frame, time, prev.gray, cur.gray, nxt.gray, bgr)
