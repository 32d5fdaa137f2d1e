"""The per-frame trackers of one court: both players (at the pose rate) and the shuttle."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from analysis.court import Court
from analysis.players import PlayerObservation, PlayerTracker
from analysis.shuttle import ShuttlePoint, ShuttleTracker

SIDES = ("near", "far")

_Poses = dict[str, Future[PlayerObservation | None]]


class PoseSchedule:
    """Which frames get player poses at `pose_fps`: a frame takes the pose due by its time.

    Poses fall due one interval apart, so a late frame does not delay the ones after it. A
    frame more than an interval late (the first one, or after a stall) restarts the count at
    its own time: the next frame is then due at once, to catch up with the players."""

    def __init__(self, pose_fps: float) -> None:
        self.set_rate(pose_fps)
        self._due = -np.inf

    def set_rate(self, pose_fps: float) -> None:
        self.interval = 1.0 / pose_fps if pose_fps > 0 else 0.0

    def take(self, timestamp: float) -> bool:
        """Whether the frame at `timestamp` (ascending from call to call) is posed."""
        if timestamp < self._due - 1e-6:
            return False
        self._due = max(self._due + self.interval, timestamp)
        return True


@dataclass(frozen=True)
class TrackedFrame:
    """What one frame adds: player observations (None when no pose was due) and the shuttle
    points that became final (they lag the frame by the shuttle tracker's delay)."""

    players: dict[str, PlayerObservation | None] | None
    shuttle: list[ShuttlePoint]


class CourtTrackers:
    """Runs the two player trackers and the shuttle tracker over a stream of frames.

    Player poses are estimated at most `pose_fps` times a second, the two players in parallel
    threads (the pose model runs outside the GIL) while this thread tracks the shuttle. A
    caller that has the next frames already (a video file) can `prefetch` them: their poses
    then start while earlier frames are still being tracked, which keeps both pose threads
    busy. The results are the same either way.
    """

    def __init__(
        self,
        court: Court,
        frame_size: tuple[int, int],
        pose_fps: float = 15.0,
        shuttle: ShuttleTracker | None = None,
    ) -> None:
        self._schedule = PoseSchedule(pose_fps)
        self._players = {side: PlayerTracker(court, side, frame_size) for side in SIDES}
        self._shuttle = shuttle if shuttle is not None else ShuttleTracker(frame_size, court)
        # One thread per player: a player's frames must reach its tracker in order (pose
        # tracking mode follows the person from one call to the next).
        self._pools = {
            side: ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"pose-{side}")
            for side in SIDES
        }
        self._prefetched: deque[tuple[int, _Poses | None]] = deque()
        self._boxes: list[tuple[float, float, float, float]] = []
        self._closed = False

    def set_pose_fps(self, pose_fps: float) -> None:
        """Changes the pose rate from the next pose on (a live server sharing its CPU)."""
        self._schedule.set_rate(pose_fps)

    def prefetch(self, frame: np.ndarray, index: int, timestamp: float) -> None:
        """Starts the player poses of a frame that `update` will be given later.

        Frames are prefetched in order, each once, and then updated in the same order; the
        array must not change meanwhile.
        """
        if self._prefetched and index <= self._prefetched[-1][0]:
            raise ValueError(
                f"frames must be prefetched in order: {index} after {self._prefetched[-1][0]}"
            )
        self._prefetched.append((index, self._start_poses(frame, index, timestamp)))

    def update(self, frame: np.ndarray, index: int, timestamp: float) -> TrackedFrame:
        if self._prefetched:
            expected = self._prefetched[0][0]
            if expected != index:
                raise ValueError(f"frame {index} updated, frame {expected} was prefetched next")
            futures = self._prefetched.popleft()[1]
        else:
            futures = self._start_poses(frame, index, timestamp)
        # The shuttle sees the players' boxes from the last pose frame before this one.
        points = self._shuttle.update(frame, index, timestamp, ignore_boxes=self._boxes)
        if futures is None:
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
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=True)
        self._prefetched.clear()
        for tracker in self._players.values():
            tracker.close()

    def _start_poses(self, frame: np.ndarray, index: int, timestamp: float) -> _Poses | None:
        """Submits both players' pose work for this frame, when a pose is due."""
        if self._closed:
            raise RuntimeError("CourtTrackers is closed")
        if not self._schedule.take(timestamp):
            return None
        return {
            side: self._pools[side].submit(tracker.update, frame, index, timestamp)
            for side, tracker in self._players.items()
        }
