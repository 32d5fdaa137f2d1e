"""The analyzer shared by uploaded videos and live streams, fed one frame at a time."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from analysis.court import Court
from analysis.events import (
    Event,
    PositionUpdate,
    RallyEnded,
    ShotDetected,
    StatsUpdate,
)
from analysis.hits import DECISION_DELAY_S, Hit, HitDetector
from analysis.players import MovementTracker, PlayerObservation
from analysis.rallies import RallyTracker
from analysis.runtime import tune_for_analysis
from analysis.shots import classify
from analysis.shuttle import ShuttlePoint
from analysis.trackers import SIDES, CourtTrackers

log = logging.getLogger(__name__)

STATS_INTERVAL_S = 1.0


class FrameAnalyzer:
    """Stateful analysis of one court's video: players, shuttle, hits, shots, rallies.

    `process(frame, timestamp)` takes BGR frames in time order at any rate and returns the
    events they caused. Every frame feeds the shuttle tracker; player poses are estimated
    at most `pose_fps` times a second, both players in parallel threads. `finish()` closes
    the open rally and types the last shot; `report()` gives the report dict.
    """

    def __init__(
        self,
        court: Court,
        frame_size: tuple[int, int],
        pose_fps: float = 15.0,
        shuttle_listener: Callable[[list[ShuttlePoint]], None] | None = None,
    ) -> None:
        tune_for_analysis()
        self.court = court
        self.shuttle_listener = shuttle_listener
        self.frame_size = frame_size
        self._trackers = CourtTrackers(court, frame_size, pose_fps)
        self._movement = {side: MovementTracker() for side in SIDES}
        self._hits = HitDetector(court, frame_height=frame_size[1])
        self._rallies = RallyTracker()
        self._frames = 0
        self._last_frame = -1
        self._last_time = 0.0
        self._first_time: float | None = None
        self._pending: Hit | None = None  # the last hit, typed once the next one is known
        self._pending_index = 0
        self._pending_rally = 0
        self._previous: Hit | None = None  # the hit before the pending one, same rally
        self._shots: list[ShotDetected] = []
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
        """Ends the analysis: flushes the trackers, types the last shot, closes the rally."""
        if self._finished:
            return []
        self._finished = True
        events = self._on_shuttle(self._trackers.flush())
        events += self._on_hits(self._hits.flush())
        events += self._type_pending(next_hit=None)
        events += self._rallies.finish()
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
            ended = self._rallies.update(last.frame, last.time - DECISION_DELAY_S, seen)
            if ended:
                events += self._type_pending(next_hit=None)
            events += ended
        return events

    def _on_hits(self, hits: list[Hit]) -> list[Event]:
        events: list[Event] = []
        for hit in hits:
            rally_events = self._rallies.on_hit(hit.frame, hit.time)
            if rally_events and isinstance(rally_events[0], RallyEnded):
                events += self._type_pending(next_hit=None)
            elif self._pending is not None:
                events += self._type_pending(next_hit=hit)
            events += rally_events
            rally = self._rallies.rallies[-1]
            self._pending = hit
            self._pending_index = rally.shots - 1
            self._pending_rally = rally.rally_id
        return events

    def _type_pending(self, next_hit: Hit | None) -> list[Event]:
        hit = self._pending
        if hit is None:
            return []
        self._pending = None
        shot = classify(hit, next_hit, self._previous, self._pending_index, self._hits)
        self._previous = hit if next_hit is not None else None
        court_xy = _shot_position(hit)
        event = ShotDetected(
            hit.player,
            shot.type,
            shot.confidence,
            hit.frame,
            hit.time,
            self._pending_rally,
            court_xy,
        )
        self._shots.append(event)
        # The stats are as of the frame being analysed, and carry its time (not the hit's).
        return [event, *self._maybe_stats(self._last_time, force=True)]

    def _maybe_stats(self, timestamp: float, force: bool) -> list[Event]:
        if not force and timestamp < self._next_stats_time:
            return []
        self._next_stats_time = timestamp + STATS_INTERVAL_S
        return [self.stats(timestamp)]

    # -- results -------------------------------------------------------------------------

    def stats(self, timestamp: float | None = None) -> StatsUpdate:
        return StatsUpdate(
            total_shots=len(self._shots),
            current_rally=self._rallies.current_id,
            rallies=len(self._rallies.rallies),
            shot_distribution=dict(Counter(s.shot for s in self._shots)),
            distance_m={side: m.distance_m for side, m in self._movement.items()},
            frame=self._last_frame,
            timestamp=self._last_time if timestamp is None else timestamp,
        )

    @property
    def shots(self) -> list[ShotDetected]:
        return list(self._shots)

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
        distribution = Counter(s.shot for s in self._shots)
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
            "shots": [s.to_report() for s in self._shots],
            "rallies": rallies,
            "players": {
                side: {
                    "distance_m": round(self._movement[side].distance_m, 1),
                    "positions": self._movement[side].positions,
                }
                for side in SIDES
            },
            "summary": {
                "total_shots": len(self._shots),
                "rallies": len(rallies),
                "shot_distribution": {t: distribution[t] for t in sorted(distribution)},
            },
        }


def _shot_position(hit: Hit) -> tuple[float, float] | None:
    """Where a shot was played from: the hitter's right foot, the planted racket-side foot
    of a right-handed player (the lunge foot at the net); the feet's midpoint otherwise."""
    obs = hit.hitter
    if obs is None:
        return None
    xy = obs.feet_xy[1] if obs.feet_xy is not None else obs.court_xy
    return float(xy[0]), float(xy[1])
