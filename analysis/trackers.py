"""The per-frame trackers of one court: both players (at the pose rate) and the shuttle."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from analysis.court import Court
from analysis.players import PlayerObservation, PlayerTracker
from analysis.shuttle import ShuttlePoint, ShuttleTracker

SIDES = ("near", "far")


@dataclass(frozen=True)
class TrackedFrame:
    """What one frame adds: player observations (None when no pose was due) and the shuttle
    points that became final (they lag the frame by the shuttle tracker's delay)."""

    players: dict[str, PlayerObservation | None] | None
    shuttle: list[ShuttlePoint]


class CourtTrackers:
    """Runs the two player trackers and the shuttle tracker over a stream of frames.

    Player poses are estimated at most `pose_fps` times a second, the two players in parallel
    threads (MediaPipe releases the GIL) while this thread tracks the shuttle.
    """

    def __init__(
        self,
        court: Court,
        frame_size: tuple[int, int],
        pose_fps: float = 15.0,
        shuttle: ShuttleTracker | None = None,
    ) -> None:
        self.pose_interval = 1.0 / pose_fps if pose_fps > 0 else 0.0
        self._players = {side: PlayerTracker(court, side, frame_size) for side in SIDES}
        self._shuttle = shuttle if shuttle is not None else ShuttleTracker(frame_size, court)
        self._pool = ThreadPoolExecutor(max_workers=len(SIDES), thread_name_prefix="pose")
        self._next_pose_time = -np.inf
        self._boxes: list[tuple[float, float, float, float]] = []
        self._closed = False

    def update(self, frame: np.ndarray, index: int, timestamp: float) -> TrackedFrame:
        futures = {}
        if timestamp >= self._next_pose_time - 1e-6:
            self._next_pose_time = max(self._next_pose_time + self.pose_interval, timestamp)
            futures = {
                side: self._pool.submit(tracker.update, frame, index, timestamp)
                for side, tracker in self._players.items()
            }
        points = self._shuttle.update(frame, index, timestamp, ignore_boxes=self._boxes)
        if not futures:
            return TrackedFrame(None, points)
        observations = {side: future.result() for side, future in futures.items()}
        self._boxes = [obs.pose.box() for obs in observations.values() if obs and obs.pose]
        return TrackedFrame(observations, points)

    def flush(self) -> list[ShuttlePoint]:
        return self._shuttle.flush()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pool.shutdown(wait=True)
        for tracker in self._players.values():
            tracker.close()
