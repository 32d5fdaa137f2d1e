"""Per-player occupancy heatmaps drawn on a top-down badminton court diagram.

Diagram pixels follow the court conventions of `analysis.court`: the far end at the top,
court (0, 0) is the far-left outer corner, x runs right and y runs down toward the camera.
A court point (x, y) in metres lands at pixel ((margin + x) * scale, (margin + y) * scale).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from analysis.court import (
    COURT_LENGTH,
    COURT_WIDTH,
    DOUBLES_LONG_SERVICE_FROM_BACK,
    NET_Y,
    SHORT_SERVICE_FROM_NET,
    SINGLES_MARGIN,
)

RUN_OFF_BGR = (52, 92, 38)
SURFACE_BGR = (74, 128, 50)
LINE_BGR = (250, 250, 250)
NET_BGR = (205, 205, 205)
TEXT_BGR = (255, 255, 255)
COLORMAP = cv2.COLORMAP_INFERNO
MAX_ALPHA = 0.85
# Densities below FADE_START (relative to the peak) stay transparent so the court shows
# through; between FADE_START and FADE_END the overlay fades in.
FADE_START, FADE_END = 0.03, 0.30
LINE_WIDTH_M = 0.04  # badminton lines are 40 mm wide
# Legend letters relative to the title's 1.25: at 60 px a metre they stay legible (about
# 10 px) when a phone shows the picture across its screen.
LEGEND_TEXT_SIZE = 1.1

Segment = tuple[tuple[float, float], tuple[float, float]]


def court_diagram(scale: float = 60.0, margin_m: float = 1.0) -> np.ndarray:
    """A top-down court (BGR uint8, a new array each call) with `margin_m` of run-off.

    Green surface, white lines: doubles boundary, singles side lines, centre lines, short
    and doubles long service lines, and the net across the middle.
    """
    if scale <= 0 or margin_m < 0:
        raise ValueError(f"expected scale > 0 and margin_m >= 0, got {scale}, {margin_m}")
    width = round((COURT_WIDTH + 2 * margin_m) * scale)
    height = round((COURT_LENGTH + 2 * margin_m) * scale)
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = RUN_OFF_BGR
    top_left = _to_px((0.0, 0.0), scale, margin_m)
    bottom_right = _to_px((COURT_WIDTH, COURT_LENGTH), scale, margin_m)
    cv2.rectangle(image, top_left, bottom_right, SURFACE_BGR, thickness=-1)
    _draw_lines(image, scale, margin_m)
    return image


def render_heatmap(
    positions: np.ndarray | Sequence[Sequence[float]],
    title: str = "",
    scale: float = 60.0,
    sigma_m: float = 0.35,
) -> np.ndarray:
    """Occupancy heatmap of (N, 2) court positions in metres over `court_diagram(scale)`.

    Positions outside the run-off, or not finite, are ignored. Empty input gives the plain
    diagram with the title. Returns a new BGR image the size of the diagram.
    """
    margin_m = 1.0
    image = court_diagram(scale, margin_m)
    points = _as_positions(positions)
    density = occupancy(points, image.shape[:2], scale, margin_m, sigma_m)
    if density.max() > 0:
        image = _blend(image, density / density.max())
        _draw_lines(image, scale, margin_m)
        _draw_legend(image, scale, margin_m)
    if title:
        _draw_title(image, title, scale, margin_m)
    return image


def occupancy(
    points: np.ndarray, shape: tuple[int, int], scale: float, margin_m: float, sigma_m: float
) -> np.ndarray:
    """Gaussian-smoothed count of `points` per diagram pixel (float32, `shape`)."""
    counts = np.zeros(shape, dtype=np.float32)
    px = np.floor((points + margin_m) * scale).astype(np.int64)
    inside = (px[:, 0] >= 0) & (px[:, 0] < shape[1]) & (px[:, 1] >= 0) & (px[:, 1] < shape[0])
    np.add.at(counts, (px[inside, 1], px[inside, 0]), 1.0)
    sigma_px = max(sigma_m * scale, 0.5)
    # Constant border: mass near the edge must not be reflected back into the image.
    return cv2.GaussianBlur(counts, (0, 0), sigma_px, borderType=cv2.BORDER_CONSTANT)


def write_png(image: np.ndarray, path: str | Path) -> None:
    """Writes `image` as a PNG; raises OSError if it cannot be written."""
    path = Path(path)
    try:
        ok = cv2.imwrite(str(path), image)
    except cv2.error as exc:
        raise OSError(f"cannot write PNG {path}: {exc}") from None
    if not ok:
        raise OSError(f"cannot write PNG {path}")


def render_heatmap_png(
    positions: np.ndarray | Sequence[Sequence[float]], path: str | Path, title: str = ""
) -> None:
    """Renders `positions` with `render_heatmap` and writes the PNG to `path`."""
    write_png(render_heatmap(positions, title), path)


def court_segments() -> list[Segment]:
    """Every court line as a segment in court metres (the net excluded)."""
    w, length, s = COURT_WIDTH, COURT_LENGTH, SINGLES_MARGIN
    far_short, near_short = NET_Y - SHORT_SERVICE_FROM_NET, NET_Y + SHORT_SERVICE_FROM_NET
    far_long, near_long = DOUBLES_LONG_SERVICE_FROM_BACK, length - DOUBLES_LONG_SERVICE_FROM_BACK
    segments: list[Segment] = [((0, 0), (w, 0)), ((0, length), (w, length))]
    segments += [((x, 0), (x, length)) for x in (0, s, w - s, w)]
    segments += [((0, y), (w, y)) for y in (far_short, near_short, far_long, near_long)]
    # The centre line stops at the short service lines: no line in the net zone.
    segments += [((w / 2, 0), (w / 2, far_short)), ((w / 2, near_short), (w / 2, length))]
    return segments


def _draw_lines(image: np.ndarray, scale: float, margin_m: float) -> None:
    thickness = max(1, round(LINE_WIDTH_M * scale))
    for a, b in court_segments():
        cv2.line(image, _to_px(a, scale, margin_m), _to_px(b, scale, margin_m), LINE_BGR, thickness)
    # The net spans post to post, which stand on the doubles side lines.
    left, right = _to_px((0, NET_Y), scale, margin_m), _to_px((COURT_WIDTH, NET_Y), scale, margin_m)
    cv2.line(image, left, right, NET_BGR, max(2, round(0.07 * scale)))
    post = max(2, round(0.06 * scale))
    for x, y in (left, right):
        cv2.circle(image, (x, y), post, (40, 40, 40), -1, cv2.LINE_AA)
        cv2.circle(image, (x, y), post, NET_BGR, 1, cv2.LINE_AA)


def _blend(image: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Colour-maps `level` (0..1) and blends it over `image` where `level` is high enough."""
    colours = cv2.applyColorMap(np.round(level * 255).astype(np.uint8), COLORMAP)
    fade = np.clip((level - FADE_START) / (FADE_END - FADE_START), 0.0, 1.0)
    alpha = (MAX_ALPHA * fade * fade * (3 - 2 * fade))[..., None]  # smoothstep
    mixed = image.astype(np.float32) * (1 - alpha) + colours.astype(np.float32) * alpha
    return np.round(mixed).astype(np.uint8)


def _draw_legend(image: np.ndarray, scale: float, margin_m: float) -> None:
    """A horizontal colour bar in the bottom run-off, labelled `less` .. `more time` above
    its two ends (beside it, labels that a phone can read would not fit)."""
    height, width = image.shape[:2]
    bar_w, bar_h = round(0.7 * width), max(4, round(0.14 * scale))
    x0 = (width - bar_w) // 2
    y0 = height - round(margin_m * scale * 0.25) - bar_h
    if y0 <= 0 or bar_w < 10:
        return
    ramp = np.tile(np.linspace(0.0, 1.0, bar_w, dtype=np.float32), (bar_h, 1))
    patch = image[y0 : y0 + bar_h, x0 : x0 + bar_w]
    image[y0 : y0 + bar_h, x0 : x0 + bar_w] = _blend(patch, ramp)
    cv2.rectangle(image, (x0 - 1, y0 - 1), (x0 + bar_w, y0 + bar_h), LINE_BGR, 1)
    baseline = y0 - round(0.1 * scale)
    (more_w, _), _ = _text_size("more time", scale, LEGEND_TEXT_SIZE)
    _draw_text(image, "less", (x0, baseline), scale, LEGEND_TEXT_SIZE)
    _draw_text(image, "more time", (x0 + bar_w - more_w, baseline), scale, LEGEND_TEXT_SIZE)


def label_height(scale: float = 60.0) -> int:
    """Pixel height of the legend's letters (the smallest text) in a heatmap of `scale`."""
    (_, text_h), _ = _text_size("less", scale, LEGEND_TEXT_SIZE)
    return text_h


def _text_size(text: str, scale: float, size: float) -> tuple[tuple[int, int], int]:
    font_scale = 0.01 * scale * size
    return cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, _thickness(font_scale))


def _thickness(font_scale: float) -> int:
    return max(1, round(font_scale * 1.6))


def _draw_title(image: np.ndarray, title: str, scale: float, margin_m: float) -> None:
    """Centres `title` in the top run-off, shrunk to fit the width if it is long."""
    size = 1.25
    (text_w, _), _ = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, 0.01 * scale * size, 2)
    size *= min(1.0, 0.94 * image.shape[1] / max(text_w, 1))
    (text_w, text_h), _ = cv2.getTextSize(title, cv2.FONT_HERSHEY_SIMPLEX, 0.01 * scale * size, 2)
    baseline = round(margin_m * scale / 2 + text_h / 2)
    _draw_text(image, title, ((image.shape[1] - text_w) // 2, baseline), scale, size)


def _draw_text(
    image: np.ndarray, text: str, origin: tuple[int, int], scale: float, size: float = 1.0
) -> None:
    font_scale = 0.01 * scale * size
    thickness = _thickness(font_scale)
    x, y = origin
    font = cv2.FONT_HERSHEY_SIMPLEX
    # A dark shadow keeps the text readable over any surface colour.
    cv2.putText(
        image, text, (x + 1, y + 1), font, font_scale, (0, 0, 0), thickness + 1, cv2.LINE_AA
    )
    cv2.putText(image, text, (x, y), font, font_scale, TEXT_BGR, thickness, cv2.LINE_AA)


def _as_positions(positions: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    points = np.array(positions, dtype=np.float64)
    if points.size == 0:
        return np.empty((0, 2))
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"expected positions of shape (N, 2), got {points.shape}")
    return points[np.isfinite(points).all(axis=1)]


def _to_px(point: Sequence[float], scale: float, margin_m: float) -> tuple[int, int]:
    x, y = point
    return round((margin_m + x) * scale), round((margin_m + y) * scale)
