"""The analyzer shared by uploaded videos and live streams, fed one frame at a time."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from analysis.camera import camera_projection
from analysis.court import Court
from analysis.events import (
    Event,
    PositionUpdate,
    ShotDetected,
    ShotRemoved,
    ShotUpdated,
    StatsUpdate,
)
from analysis.hits import HitDetector, HitUpdate
from analysis.players import MovementTracker, PlayerObservation
from analysis.rallies import RallyTracker
from analysis.runtime import tune_for_analysis
from analysis.shot_book import ShotBook
from analysis.shots import ShotClassifier
from analysis.shuttle import ShuttlePoint, ShuttleTracker
from analysis.trackers import SIDES, CourtTrackers
from analysis.trained import TrainedModels

log = logging.getLogger(__name__)

STATS_INTERVAL_S = 1.0


class FrameAnalyzer:
    """Stateful analysis of one court's video: players, shuttle, hits, shots, rallies.

    `process(frame, timestamp)` takes BGR frames in time order at any rate and returns the
    events they caused. Every frame feeds the shuttle tracker; player poses are estimated
    at most `pose_fps` times a second, both players in parallel threads. A shot is announced
    as soon as its hit is found and may be revised for a few seconds (`ShotUpdated`,
    `ShotRemoved`). `finish()` closes the open rally and settles the last shots; `report()`
    gives the report dict, with every revision applied.
    """

    def __init__(
        self,
        court: Court,
        frame_size: tuple[int, int],
        pose_fps: float = 15.0,
        shuttle_listener: Callable[[list[ShuttlePoint]], None] | None = None,
        models: TrainedModels | None = None,
    ) -> None:
        """`models`: the trained parts (the shipped ones by default)."""
        tune_for_analysis()
        models = models or TrainedModels.shipped()
        self.court = court
        self.shuttle_listener = shuttle_listener
        self.frame_size = frame_size
        shuttle = ShuttleTracker(frame_size, court, scorer=models.shuttle)
        self._trackers = CourtTrackers(court, frame_size, pose_fps, shuttle)
        self._movement = {side: MovementTracker() for side in SIDES}
        self._hits = HitDetector(court, frame_height=frame_size[1], models=models)
        self._rallies = RallyTracker(models.picker.rally_gap_s)
        classifier = ShotClassifier(self._hits, court, camera_projection(court, frame_size), models)
        self._book = ShotBook(classifier, self._rallies)
        self._frames = 0
        self._last_frame = -1
        self._last_time = 0.0
        self._first_time: float | None = None
        self._next_stats_time = 0.0
        self._finished = False
        self._closed = False

    # -- feeding -------------------------------------------------------------------------

    def process(
        self, frame: np.ndarray, timestamp: float, frame_index: int | None = None
    ) -> list[Event]:
        """Analyses one frame; returns the events decided so far (some lag a few frames)."""
        if self._finished:
            raise RuntimeError("process() called after finish()")
        index = self._last_frame + 1 if frame_index is None else frame_index
        if self._first_time is None:
            self._first_time = timestamp
        self._frames += 1
        self._last_frame, self._last_time = index, timestamp
        events: list[Event] = []

        tracked = self._trackers.update(frame, index, timestamp)
        if tracked.players is not None:
            events += self._on_players(tracked.players)
        events += self._on_shuttle(tracked.shuttle)
        events += self._maybe_stats(timestamp, force=False)
        return events

    def passed(self, frame_index: int, timestamp: float) -> None:
        """A frame of the video that was not analysed (the rate cap let it by): the report's
        frame count and duration still run to it."""
        if frame_index > self._last_frame:
            self._last_frame, self._last_time = frame_index, timestamp

    def set_pose_fps(self, pose_fps: float) -> None:
        """Changes how many times a second the players are posed, from the next pose on."""
        self._trackers.set_pose_fps(pose_fps)

    def prefetch(self, frame: np.ndarray, timestamp: float, frame_index: int) -> None:
        """Starts the pose work of a frame that `process` will get later (a video file,
        whose next frames are already decoded): the poses of the next frames then run while
        this one is analysed. Frames are prefetched in order, then processed in the same
        order with the same indices; the events are the same as without prefetching."""
        if self._finished:
            raise RuntimeError("prefetch() called after finish()")
        self._trackers.prefetch(frame, frame_index, timestamp)

    def finish(self) -> list[Event]:
        """Ends the analysis: flushes the trackers, settles the last shots, closes the rally."""
        if self._finished:
            return []
        self._finished = True
        events = self._on_shuttle(self._trackers.flush())
        events += self._on_hits(self._hits.flush())
        for ended in self._rallies.finish():
            events.append(ended)
            events += self._book.rally_ended(ended)
        events += self._book.finish()
        events += self._maybe_stats(self._last_time, force=True)
        return events

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._trackers.close()

    def __enter__(self) -> FrameAnalyzer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------

    def _on_players(self, observations: dict[str, PlayerObservation | None]) -> list[Event]:
        events: list[Event] = []
        for side, obs in observations.items():
            self._movement[side].update(obs)
            if obs is None:
                continue
            x, y = (float(v) for v in obs.court_xy)
            events.append(PositionUpdate(side, obs.frame, obs.time, x, y))
        self._hits.observe_players(observations)
        return events

    def _on_shuttle(self, points: list[ShuttlePoint]) -> list[Event]:
        if self.shuttle_listener and points:
            self.shuttle_listener(points)
        events = self._on_hits(self._hits.add(points))
        if points:
            last = points[-1]
            seen = any(p.xy is not None for p in points)
            decided = self._hits.decided_until(last.time)
            for ended in self._rallies.update(last.frame, decided, seen):
                events.append(ended)
                events += self._book.rally_ended(ended)
        return events

    def _on_hits(self, update: HitUpdate) -> list[Event]:
        events = self._book.apply(update)
        if any(isinstance(e, ShotDetected | ShotUpdated | ShotRemoved) for e in events):
            # The stats are as of the frame being analysed, and carry its time (not the hit's).
            events += self._maybe_stats(self._last_time, force=True)
        return events

    def _maybe_stats(self, timestamp: float, force: bool) -> list[Event]:
        if not force and timestamp < self._next_stats_time:
            return []
        self._next_stats_time = timestamp + STATS_INTERVAL_S
        return [self.stats(timestamp)]

    # -- results -------------------------------------------------------------------------

    def stats(self, timestamp: float | None = None) -> StatsUpdate:
        shots = self._book.shots
        return StatsUpdate(
            total_shots=len(shots),
            current_rally=self._rallies.current_id,
            rallies=len(self._rallies.rallies),
            shot_distribution=dict(Counter(s.shot for s in shots)),
            distance_m={side: m.distance_m for side, m in self._movement.items()},
            frame=self._last_frame,
            timestamp=self._last_time if timestamp is None else timestamp,
        )

    @property
    def shots(self) -> list[ShotDetected]:
        """The shots as they stand now (every revision so far applied)."""
        return self._book.shots

    def player_positions(self, side: str) -> list[list[float]]:
        return self._movement[side].positions

    def report(self, fps: float | None = None) -> dict[str, Any]:
        """The report dict (see the design's report schema); call after `finish()`."""
        if not self._finished:
            self.finish()
        duration = self._last_time - (self._first_time or 0.0)
        if fps is None:
            fps = (self._frames - 1) / duration if duration > 0 else 0.0
        rallies = [r.to_report() for r in self._rallies.rallies]
        shots = self._book.shots
        distribution = Counter(s.shot for s in shots)
        return {
            "schema": 1,
            "video": {
                "fps": round(fps, 3),
                "frames": self._last_frame + 1,
                "width": self.frame_size[0],
                "height": self.frame_size[1],
                "duration": round(duration + (1.0 / fps if fps else 0.0), 3),
            },
            "court": self.court.as_dict(),
            "shots": [s.to_report() for s in shots],
            "rallies": rallies,
            "players": {
                side: {
                    "distance_m": round(self._movement[side].distance_m, 1),
                    "positions": self._movement[side].positions,
                }
                for side in SIDES
            },
            "summary": {
                "total_shots": len(shots),
                "rallies": len(rallies),
                "shot_distribution": {t: distribution[t] for t in sorted(distribution)},
            },
        }
