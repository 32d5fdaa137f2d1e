"""Finds the badminton court in a picture: its 4 outer doubles corners, or a refusal.

Court lines are thin, white and laid out to a known plan in metres. The detector:

1. combines a few frames (per-pixel median of their darkest colour channel), so that
   players moving over the lines vanish and coloured floors go dark while white lines stay;
2. keeps the thin bright pixels (a top-hat: brighter than the picture opened by a square a
   little wider than a line; big bright areas such as logos and lights stay out);
3. finds straight lines in them (Hough), splits them into across-the-court ("horizontal")
   and along-the-court ("steep") lines;
4. tries every pair of horizontal and pair of steep lines as every pair of the model's lines
   (4 intersections -> a homography), scoring each by how many of the model's line points
   land on line pixels and how few of the points beside the lines do;
5. refines the best few with every line pixel near each model line (a linear least-squares
   fit of the image->court homography), and scores them once more on the whole model.

The score of the best fit is the confidence; below `MIN_CONFIDENCE` the answer is a
refusal, never a guessed court.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import cv2
import numpy as np

from analysis.court import CORNER_NAMES, CORNERS_M, COURT_LENGTH, COURT_WIDTH

# The model's lines in court metres (origin far-left outer corner, x across, y toward camera).
# The court's size is measured to the outer edges of its outer lines: their centres (what the
# fit finds) lie this far inside. Tuned on the AI CUP corners (half a line and a little blur).
OUTER_INSET = 0.04
# Lines across the court: back, doubles long service, short service lines (centres).
ACROSS_Y = (OUTER_INSET, 0.76, 4.72, 8.68, 12.64, COURT_LENGTH - OUTER_INSET)
# Lines along it: outer (doubles) and singles side lines.
ALONG_X = (OUTER_INSET, 0.46, 5.64, COURT_WIDTH - OUTER_INSET)
CENTRE_X = 3.05  # the centre line, between each short service line and its back line
MODEL_SEGMENTS = (
    *(((ALONG_X[0], y), (ALONG_X[-1], y)) for y in ACROSS_Y),
    *(((x, ACROSS_Y[0]), (x, ACROSS_Y[-1])) for x in ALONG_X),
    ((CENTRE_X, ACROSS_Y[0]), (CENTRE_X, ACROSS_Y[2])),
    ((CENTRE_X, ACROSS_Y[3]), (CENTRE_X, ACROSS_Y[-1])),
)

MIN_CONFIDENCE = 0.5  # below: "no badminton court found"
WORK_WIDTH = 1280  # larger pictures are shrunk to this width first
MAX_LINES = 8  # strongest lines kept per direction for the hypotheses
SHORTLIST = 6  # best coarse hypotheses refined


@dataclass(frozen=True)
class CourtDetection:
    """What the detector found. `corners` is None exactly when it refused."""

    corners: np.ndarray | None  # (4, 2) image pixels in CORNER_NAMES order
    # 0..1: share of the model's line points on line pixels where the fit puts them, less
    # the share of points beside the lines that are (clutter that fits anything)
    confidence: float
    reason: str | None = None  # why it refused, fit to show a user

    @property
    def found(self) -> bool:
        return self.corners is not None

    def as_dict(self) -> dict[str, list[float]]:
        """`{"far_left": [x, y], ...}`, the form `Court.from_mapping` takes."""
        if self.corners is None:
            raise ValueError(self.reason or "no court")
        return {
            name: [round(float(x), 1), round(float(y), 1)]
            for name, (x, y) in zip(CORNER_NAMES, self.corners)
        }


NOT_FOUND = "no badminton court found"


def detect_court(frames: Sequence[np.ndarray] | np.ndarray) -> CourtDetection:
    """Finds the court in one BGR frame or a few frames of the same (still) camera."""
    stack = [frames] if isinstance(frames, np.ndarray) and frames.ndim == 3 else list(frames)
    if not stack:
        raise ValueError("detect_court needs at least one frame")
    height, width = stack[0].shape[:2]
    scale = min(1.0, WORK_WIDTH / width)
    white = _whiteness(stack, scale)
    mask = _line_pixels(white)
    lines = _lines(mask)
    best = _best_fit(lines, mask)
    if best is None:
        return CourtDetection(None, 0.0, NOT_FOUND)
    to_image, confidence = best
    if confidence < MIN_CONFIDENCE:
        return CourtDetection(None, round(confidence, 3), NOT_FOUND)
    corners = _corners(to_image, mask) / scale
    return CourtDetection(corners, round(confidence, 3))


def _whiteness(frames: list[np.ndarray], scale: float) -> np.ndarray:
    planes = []
    for frame in frames:
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[:2] != frames[0].shape[:2]:
            raise ValueError(f"frames must be HxWx3 of one size, got {frame.shape}")
        plane = frame.min(axis=2)
        if scale < 1.0:
            plane = cv2.resize(plane, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        planes.append(plane)
    if len(planes) == 1:
        return planes[0]
    return np.median(np.stack(planes), axis=0).astype(np.uint8)


def _line_pixels(white: np.ndarray) -> np.ndarray:
    """Mask (0/1) of the thin bright pixels."""
    size = max(5, round(white.shape[1] / 90)) | 1
    response = cv2.morphologyEx(white, cv2.MORPH_TOPHAT, np.ones((size, size), np.uint8))
    threshold = max(25.0, float(np.percentile(response, 97)) * 0.5)
    return (response > threshold).astype(np.uint8)


@dataclass(frozen=True)
class _Lines:
    across: np.ndarray  # (N, 3) homogeneous image lines, top to bottom
    along: np.ndarray  # (M, 3), left to right


def _lines(mask: np.ndarray) -> _Lines:
    height, width = mask.shape
    found = cv2.HoughLines(mask, 1, np.pi / 360, threshold=max(40, width // 20))
    across: list[np.ndarray] = []
    along: list[np.ndarray] = []
    tolerance = width / 150  # two lines this close at both probes are one painted line
    for rho, theta in [] if found is None else found[:400, 0]:
        if len(across) >= MAX_LINES and len(along) >= MAX_LINES:
            break
        line = np.array([np.cos(theta), np.sin(theta), -rho])
        tilt = abs(np.degrees(theta) - 90)  # 0: horizontal in the image
        if tilt < 20:
            group, probes, axis = across, (0.3 * width, 0.7 * width), 0
        elif tilt > 30:
            group, probes, axis = along, (0.4 * height, 0.8 * height), 1
        else:
            continue
        if len(group) >= MAX_LINES:
            continue
        where = [_at(line, p, axis) for p in probes]
        if any(
            all(abs(_at(o, p, axis) - w) < tolerance for p, w in zip(probes, where)) for o in group
        ):
            continue
        group.append(line)
    mid_x, mid_y = width / 2, height / 2
    across.sort(key=lambda ln: -(ln[0] * mid_x + ln[2]) / ln[1])
    along.sort(key=lambda ln: -(ln[1] * mid_y + ln[2]) / ln[0])
    return _Lines(np.array(across).reshape(-1, 3), np.array(along).reshape(-1, 3))


def _at(line: np.ndarray, value: float, axis: int) -> float:
    """y of the line at x = value (axis 0), or x at y = value (axis 1)."""
    a, b, c = line
    return -(a * value + c) / b if axis == 0 else -(b * value + c) / a


def _model_points(step: float) -> tuple[np.ndarray, np.ndarray]:
    """Points along the model's lines, and points beside them (0.2 m off either side)."""
    on, off = [], []
    for (x0, y0), (x1, y1) in MODEL_SEGMENTS:
        length = np.hypot(x1 - x0, y1 - y0)
        t = np.linspace(0, 1, max(2, int(length / step)))
        pts = np.stack([x0 + t * (x1 - x0), y0 + t * (y1 - y0)], axis=1)
        on.append(pts)
        normal = np.array([y1 - y0, x0 - x1]) / length
        for offset in (0.2, -0.2):
            off.append(pts + offset * normal)
    off_pts = np.concatenate(off)
    # Points beside one line may lie on another (a line 0.46 m or 0.76 m away is fine).
    return np.concatenate(on), off_pts


ROUGH_ON, ROUGH_OFF = _model_points(2.0)
COARSE_ON, COARSE_OFF = _model_points(0.5)
FINE_ON, FINE_OFF = _model_points(0.1)


def _best_fit(lines: _Lines, mask: np.ndarray) -> tuple[np.ndarray, float] | None:
    """(homography court metres -> image, confidence) of the best-supported court."""
    if len(lines.across) < 2 or len(lines.along) < 2:
        return None
    height, width = mask.shape
    near = cv2.distanceTransform(1 - mask, cv2.DIST_L2, 3) <= 2.0
    hyps = _hypotheses(lines, width, height)
    if len(hyps) == 0:
        return None
    rough = _score(hyps, ROUGH_ON, ROUGH_OFF, near)
    hyps = hyps[np.argsort(-rough)[:200]]
    coarse = _score(hyps, COARSE_ON, COARSE_OFF, near)
    order = np.argsort(-coarse)[:SHORTLIST]
    best = None
    for i in order:
        to_image = _refine(hyps[i], mask)
        if to_image is None:
            continue
        score = float(_score(to_image[None], FINE_ON, FINE_OFF, near)[0])
        if best is None or score > best[1]:
            best = (to_image, score)
    return best


def _hypotheses(lines: _Lines, width: int, height: int) -> np.ndarray:
    """Homographies court metres -> image pixels for every line-pair assignment."""
    cross = np.cross(lines.across[:, None, :], lines.along[None, :, :])  # (N, M, 3)
    with np.errstate(divide="ignore", invalid="ignore"):
        meet = cross[..., :2] / cross[..., 2:3]
    pairs = np.array(
        [
            (i, j, k, m)
            for i, j in combinations(range(len(lines.across)), 2)
            for k, m in combinations(range(len(lines.along)), 2)
        ]
    )
    if len(pairs) == 0:
        return np.zeros((0, 3, 3))
    i, j, k, m = pairs.T
    quads = np.stack([meet[i, k], meet[i, m], meet[j, m], meet[j, k]], axis=1)
    quads = quads[_plausible(quads, width, height)]
    model = np.array(
        [
            [[xa, ya], [xb, ya], [xb, yb], [xa, yb]]
            for ya, yb in combinations(ACROSS_Y, 2)
            for xa, xb in combinations(ALONG_X, 2)
        ]
    )
    src = np.tile(model, (len(quads), 1, 1))
    dst = np.repeat(quads, len(model), axis=0)
    hyps = _homographies(src, dst)
    keep = _plausible(_project_many(hyps, CORNERS_M), width, height, margin=0.15)
    return hyps[keep]


def _plausible(quads: np.ndarray, width: int, height: int, margin: float = 0.5) -> np.ndarray:
    """Which (N, 4, 2) quads far-left, far-right, near-right, near-left could be a court."""
    lo = np.array([-margin * width, -margin * height])
    hi = np.array([(1 + margin) * width, (1 + margin) * height])
    with np.errstate(invalid="ignore"):
        inside = np.all(np.isfinite(quads), axis=(1, 2)) & np.all(
            (quads >= lo) & (quads <= hi), axis=(1, 2)
        )
    quads = np.nan_to_num(quads)
    edges = np.roll(quads, -1, axis=1) - quads
    nxt = np.roll(edges, -1, axis=1)
    turns = edges[..., 0] * nxt[..., 1] - edges[..., 1] * nxt[..., 0]
    convex = np.all(turns > 0, axis=1) | np.all(turns < 0, axis=1)
    x, y = quads[..., 0], quads[..., 1]
    area = 0.5 * np.abs(np.sum(x * np.roll(y, -1, axis=1) - y * np.roll(x, -1, axis=1), axis=1))
    return inside & convex & (area > 0.002 * width * height)


def _homographies(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Batched 4-point homographies src -> dst: (N, 4, 2) x2 -> (N, 3, 3)."""
    n = len(src)
    a = np.zeros((n, 8, 8))
    b = np.zeros((n, 8))
    x, y = src[..., 0], src[..., 1]
    u, v = dst[..., 0], dst[..., 1]
    a[:, 0::2, 0], a[:, 0::2, 1], a[:, 0::2, 2] = x, y, 1
    a[:, 0::2, 6], a[:, 0::2, 7] = -u * x, -u * y
    a[:, 1::2, 3], a[:, 1::2, 4], a[:, 1::2, 5] = x, y, 1
    a[:, 1::2, 6], a[:, 1::2, 7] = -v * x, -v * y
    b[:, 0::2], b[:, 1::2] = u, v
    ok = np.abs(np.linalg.det(a)) > 1e-12
    h = np.zeros((n, 9))
    h[ok, :8] = np.linalg.solve(a[ok], b[ok][..., None])[..., 0]
    h[:, 8] = 1.0
    h[~ok] = np.nan
    return h.reshape(n, 3, 3)


def _project_many(hs: np.ndarray, pts: np.ndarray) -> np.ndarray:
    homogeneous = np.concatenate([pts, np.ones((len(pts), 1))], axis=1)
    out = np.matmul(hs, homogeneous.T)  # (N, 3, P)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.stack([out[:, 0] / out[:, 2], out[:, 1] / out[:, 2]], axis=-1)


def _project(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return _project_many(h[None], pts)[0]


def _lookup(hs: np.ndarray, pts: np.ndarray, image: np.ndarray) -> np.ndarray:
    """image values at the projected points, 0 outside the picture: (N, P)."""
    height, width = image.shape
    homogeneous = np.concatenate([pts, np.ones((len(pts), 1))], axis=1).T.astype(np.float32)
    out = np.matmul(hs.astype(np.float32), homogeneous)
    with np.errstate(divide="ignore", invalid="ignore"):
        xs = np.nan_to_num(out[:, 0] / out[:, 2] + 0.5, nan=-1.0, posinf=-1.0, neginf=-1.0)
        ys = np.nan_to_num(out[:, 1] / out[:, 2] + 0.5, nan=-1.0, posinf=-1.0, neginf=-1.0)
    inside = (xs >= 0) & (xs < width) & (ys >= 0) & (ys < height)
    flat = np.where(inside, ys.astype(np.int32) * width + xs.astype(np.int32), 0)
    padded = image.ravel()
    return np.where(inside, padded[np.clip(flat, 0, padded.size - 1)], 0)


def _score(hs: np.ndarray, on: np.ndarray, off: np.ndarray, near: np.ndarray) -> np.ndarray:
    """Share of model line points on line pixels, minus the share of points beside them."""
    hit = _lookup(hs, on, near).mean(axis=1)
    clutter = _lookup(hs, off, near).mean(axis=1)
    return np.clip(hit - clutter, 0.0, 1.0)


def _refine(to_image: np.ndarray, mask: np.ndarray, rounds: int = 3) -> np.ndarray | None:
    """Fits the homography to the line pixels near each projected model line."""
    # Only the pixels in and around the court hypothesised (not the crowd or the adverts).
    height, width = mask.shape
    box = _project(to_image, np.array([[-1.0, -1.0], [7.1, -1.0], [7.1, 14.4], [-1.0, 14.4]]))
    if not np.all(np.isfinite(box)):
        return None
    x0, y0 = np.clip(box.min(axis=0), 0, [width, height]).astype(int)
    x1, y1 = np.clip(box.max(axis=0) + 1, 0, [width, height]).astype(int)
    ys, xs = np.nonzero(mask[y0:y1, x0:x1])
    pixels = np.stack([xs + x0, ys + y0, np.ones_like(xs)], axis=1).astype(np.float64)
    model_lines = _model_lines()
    for radius in (6.0, 3.0, 2.0)[:rounds]:
        to_court = np.linalg.inv(to_image)
        court = pixels @ to_court.T
        court = court[:, :2] / court[:, 2:3]
        rows = []
        for line, (lo, hi), axis in model_lines:
            # Distance in pixels: metres off the line times the local scale along the normal.
            offset = court[:, axis] - line
            along = court[:, 1 - axis]
            inside = (along >= lo - 0.1) & (along <= hi + 0.1) & (np.abs(offset) < 0.5)
            if not np.any(inside):
                continue
            pts = court[inside]
            shifted = pts.copy()
            shifted[:, axis] += 0.1
            step = np.linalg.norm(_project(to_image, shifted) - _project(to_image, pts), axis=1)
            close = np.abs(offset[inside]) * step / 0.1 < radius
            if close.sum() < 8:
                continue
            p = pixels[inside][close]
            # Court point (G p) on the model line: G[axis] . p - line * G[2] . p = 0.
            block = np.zeros((len(p), 9))
            block[:, 3 * axis : 3 * axis + 3] = p
            block[:, 6:9] = -line * p
            # Weight each line's pixels by 1/sqrt(count) so long lines do not swamp short ones.
            rows.append(block / np.sqrt(len(p)))
        if len(rows) < 4:
            return None
        a = np.concatenate(rows)
        norm = _normaliser(mask.shape)
        a_n = a.copy()
        for block_start in (0, 3, 6):
            a_n[:, block_start : block_start + 3] = a[:, block_start : block_start + 3] @ norm.T
        _, vectors = np.linalg.eigh(a_n.T @ a_n)
        g = vectors[:, 0].reshape(3, 3) @ norm
        if abs(np.linalg.det(g)) < 1e-15:
            return None
        to_image = np.linalg.inv(g)
        to_image /= to_image[2, 2]
    return to_image


def _normaliser(shape: tuple[int, int]) -> np.ndarray:
    """Scales pixel coordinates to about -1..1 for a well-conditioned fit."""
    height, width = shape
    s = 2.0 / max(width, height)
    return np.array([[s, 0, -s * width / 2], [0, s, -s * height / 2], [0, 0, 1.0]])


def _model_lines():
    """(position, (from, to), axis): axis 1 = a line y = position, 0 = x = position."""
    out = [(y, (ALONG_X[0], ALONG_X[-1]), 1) for y in ACROSS_Y]
    out += [(x, (ACROSS_Y[0], ACROSS_Y[-1]), 0) for x in ALONG_X]
    out += [(CENTRE_X, (ACROSS_Y[0], ACROSS_Y[2]), 0), (CENTRE_X, (ACROSS_Y[3], ACROSS_Y[-1]), 0)]
    return out


MAX_CORNER_SHIFT = 4 / 1280  # of the width: how far the local fit may move a corner
CORNER_REACH = 2.5  # metres of each outer line next to a corner used to place that corner


def _corners(to_image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The 4 outer corners, each from the two outer lines fitted near it.

    Broadcast lenses bend long lines by a few pixels, so a corner is placed by straight
    lines through the pixels of its own stretch of line rather than by the whole-court fit.
    """
    ys, xs = np.nonzero(mask)
    pixels = np.stack([xs, ys], axis=1).astype(np.float64)
    court = _project(np.linalg.inv(to_image), pixels)
    inner = np.array(
        [
            [ALONG_X[0], ACROSS_Y[0]],
            [ALONG_X[-1], ACROSS_Y[0]],
            [ALONG_X[-1], ACROSS_Y[-1]],
            [ALONG_X[0], ACROSS_Y[-1]],
        ]
    )
    out = _project(to_image, CORNERS_M)
    for n, ((cx, cy), outer) in enumerate(zip(inner, CORNERS_M)):
        across = _local_line(pixels, court, to_image, axis=1, at=cy, start=cx)
        along = _local_line(pixels, court, to_image, axis=0, at=cx, start=cy)
        if across is None or along is None:
            continue
        meet = np.cross(across, along)
        if abs(meet[2]) < 1e-9:
            continue
        # The fitted lines are line centres: step out to the edges as the fit's scale says.
        shift = _project(to_image, outer[None])[0] - _project(to_image, np.array([[cx, cy]]))[0]
        local = meet[:2] / meet[2] + shift
        # A player on the corner can drag a short fit away: then the whole-court fit is better.
        if np.linalg.norm(local - out[n]) < MAX_CORNER_SHIFT * mask.shape[1]:
            out[n] = local
    return out


def _local_line(pixels, court, to_image, axis: int, at: float, start: float):
    """Image line (a, b, c) through the line pixels of model line `court[axis] == at`
    within CORNER_REACH metres of `start` along it; None when too few."""
    offset = court[:, axis] - at
    along = court[:, 1 - axis]
    near = (np.abs(along - start) < CORNER_REACH) & (np.abs(offset) < 0.15)
    if near.sum() < 10:
        return None
    pts = pixels[near]
    # Keep the pixels within 2 px of the projected line (drop players' edges, other lines).
    expected = _project(to_image, court[near] - np.outer(offset[near], np.eye(2)[axis]))
    close = np.linalg.norm(pts - expected, axis=1) < 2.5
    if close.sum() < 10:
        return None
    pts = pts[close]
    mean = pts.mean(axis=0)
    _, _, vt = np.linalg.svd(pts - mean, full_matrices=False)
    normal = vt[-1]
    return np.array([normal[0], normal[1], -normal @ mean])
