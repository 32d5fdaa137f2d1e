"""Shuttlecock tracking: per-frame candidates linked into the most likely flight path.

Each distinct frame yields a few scored candidates (`analysis.shuttle_detect`). A dynamic
programme over pairs of candidates finds the best path through them: a path is a chain of
segments, each following a constant-velocity model (in seconds, so any frame rate works,
even an irregular one); starting a segment costs a penalty, so a segment must earn its
place with several good candidates. Hits, where the shuttle turns sharply, start a new
segment. Positions are final a fixed number of frames later (see `ShuttleTracker`), when
the frames after them have confirmed or refuted the path.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analysis.court import COURT_LENGTH, COURT_WIDTH, Court
from analysis.shuttle_detect import (
    CandidateDetector,
    Candidates,
    CandidateScorer,
    DistinctFrames,
    Triplet,
)
from analysis.shuttle_path import PathParams, PathSearch

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class ShuttlePoint:
    """Where the shuttle is in one frame."""

    frame: int
    time: float
    xy: tuple[float, float] | None  # image pixels; None = not seen
    interpolated: bool = False  # filled in across a short gap


class ShuttleTracker:
    """Tracks the shuttle through frames fed one at a time, in order.

    `update` returns the points that became final, in frame order, each fed frame exactly
    once. A frame's point is final when `PathParams.delay` (6) more distinct frames have
    been fed after the one that follows it: 7 distinct frames late, about 8 frames of a
    30 fps broadcast (which repeats every sixth frame; a repeated frame gets the point of
    the frame it repeats). `flush` returns the rest at the end.

    `court`, when given, drops candidates outside the court's columns (umpire, line judges,
    crowd at the sides). `ignore_boxes` (players, image pixels x0, y0, x1, y1) lower the
    score of candidates in the bottom quarter of a player's box, where white shoes move much
    like a shuttle; the racket, and the shuttle at a hit, are higher up and keep theirs.

    The tracker reads a frame again when the next one arrives: do not overwrite a frame
    array in place before feeding the next one.
    """

    def __init__(
        self,
        frame_size: tuple[int, int],
        court: Court | None = None,
        *,
        params: PathParams | None = None,
        scorer: CandidateScorer | None = None,
    ) -> None:
        self.frame_size = frame_size
        self.params = params or PathParams()
        self._detector = CandidateDetector(frame_size, scorer)
        self._frames = DistinctFrames()
        self._path = PathSearch(self.params, scale=frame_size[0] / 1280.0)
        self._region = _CourtColumns(court) if court is not None else None
        self._box_queue: deque[Sequence[Box]] = deque()
        # Fed frames not yet final: (frame, time, distinct index or None for a repeat).
        self._pending: deque[tuple[int, float, int | None]] = deque()
        self._distinct = 0  # distinct frames seen
        self._last_frame: int | None = None
        self._last: tuple[tuple[float, float] | None, bool] = (None, False)

    def update(
        self,
        frame_bgr: np.ndarray,
        frame: int,
        time: float,
        ignore_boxes: Sequence[Box] = (),
    ) -> list[ShuttlePoint]:
        """Feeds one frame; returns the points that are now final, in frame order."""
        if frame_bgr.shape[:2] != (self.frame_size[1], self.frame_size[0]):
            raise ValueError(
                f"frame is {frame_bgr.shape[1]}x{frame_bgr.shape[0]}, tracker expects "
                f"{self.frame_size[0]}x{self.frame_size[1]}"
            )
        if self._last_frame is not None and frame <= self._last_frame:
            raise ValueError(f"frames must arrive in order: {frame} after {self._last_frame}")
        self._last_frame = frame
        repeat, ready = self._frames.push(frame, time, frame_bgr)
        if repeat:
            self._pending.append((frame, time, None))
            return []
        self._pending.append((frame, time, self._distinct))
        self._distinct += 1
        self._box_queue.append(tuple(ignore_boxes))
        if ready is None:
            return []
        self._step(ready, self._box_queue.popleft())
        return self._emit(final_before=self._path.frames - self.params.delay)

    def flush(self) -> list[ShuttlePoint]:
        """The points of all remaining frames, at the end of the video or stream."""
        ready = self._frames.finish()
        if ready is not None:
            self._step(ready, self._box_queue.popleft() if self._box_queue else ())
        self._box_queue.clear()
        return self._emit(final_before=self._path.frames)

    def _step(self, ready: Triplet, boxes: Sequence[Box]) -> None:
        candidates = self._detector.detect(ready.prev, ready.cur, ready.next, ready.cur_bgr)
        xy, score = self._adjust(candidates, boxes)
        self._path.add(ready.time, xy, score)

    def _adjust(
        self, candidates: Candidates, boxes: Sequence[Box]
    ) -> tuple[np.ndarray, np.ndarray]:
        xy, score = candidates.xy, np.minimum(candidates.score, self.params.score_clip)
        if len(xy) and self._region is not None:
            keep = self._region.contains(xy)
            xy, score = xy[keep], score[keep]
        # A candidate at a player's feet is kept only inside an otherwise strong flight.
        for box in boxes:
            score -= self.params.body_penalty * _at_feet(xy, box)
        return xy, score

    def _emit(self, final_before: int) -> list[ShuttlePoint]:
        """Points of pending frames whose distinct frame index is below `final_before`."""
        out: list[ShuttlePoint] = []
        while self._pending:
            frame, time, index = self._pending[0]
            if index is None:
                # A repeat shows what the frame before it showed.
                xy, interpolated = self._last
            elif index < final_before:
                xy, interpolated = self._path.position(index)
                self._last = (xy, interpolated)
            else:
                break
            self._pending.popleft()
            out.append(ShuttlePoint(frame, time, xy, interpolated))
        self._path.forget_before(final_before - self.params.delay)
        return out


class _CourtColumns:
    """Image region where the shuttle can be: between the sidelines at the near baseline,
    widened by a margin, at any height above the near baseline plus that margin (a high
    shuttle is seen above the court, and the near baseline is the court's widest row)."""

    def __init__(self, court: Court, margin_m: float = 1.0) -> None:
        left, right, below = court.court_to_image(
            [
                [-margin_m, COURT_LENGTH],
                [COURT_WIDTH + margin_m, COURT_LENGTH],
                [COURT_WIDTH / 2, COURT_LENGTH + margin_m],
            ]
        )
        self._x0, self._x1, self._y1 = float(left[0]), float(right[0]), float(below[1])

    def contains(self, xy: np.ndarray) -> np.ndarray:
        x, y = xy[:, 0], xy[:, 1]
        return (x >= self._x0) & (x <= self._x1) & (y <= self._y1)


def _at_feet(xy: np.ndarray, box: Box) -> np.ndarray:
    """1 for points in the bottom quarter of a player box (x0, y0, x1, y1), else 0."""
    x0, y0, x1, y1 = box
    inside = (
        (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] > y1 - (y1 - y0) / 4) & (xy[:, 1] <= y1)
    )
    return inside.astype(np.float64)
