"""Events emitted by the analyzer, one small frozen dataclass each.

`to_message()` turns an event into the live protocol's JSON object (see the design's live
protocol); every message carries the timestamp of the frame it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SHOT_TYPES = (
    "short_serve",
    "long_serve",
    "clear",
    "drive",
    "smash",
    "net_shot",
    "drop",
    "lift",
    "push",
)
PLAYERS = ("near", "far")


@dataclass(frozen=True)
class PositionUpdate:
    player: str
    frame: int
    timestamp: float
    x: float  # court metres
    y: float

    def to_message(self) -> dict[str, Any]:
        return {
            "type": "position_update",
            "player": self.player,
            "x": round(self.x, 2),
            "y": round(self.y, 2),
            "frame": self.frame,
            "timestamp": round(self.timestamp, 3),
        }


@dataclass(frozen=True)
class ShotDetected:
    """A shot: announced as soon as its hit is found; a later `ShotUpdated` or `ShotRemoved`
    with its `shot_id` revises it."""

    player: str
    shot: str
    confidence: float
    frame: int
    timestamp: float
    rally_id: int
    court_xy: tuple[float, float] | None
    shot_id: int = 0

    def to_message(self, kind: str = "shot_detected") -> dict[str, Any]:
        return {
            "type": kind,
            "shot_id": self.shot_id,
            "shot": self.shot,
            "confidence": round(self.confidence, 3),
            "player": self.player,
            "rally_id": self.rally_id,
            "court_xy": _rounded(self.court_xy),
            "frame": self.frame,
            "timestamp": round(self.timestamp, 3),
        }

    def to_report(self) -> dict[str, Any]:
        return {
            "shot_id": self.shot_id,
            "frame": self.frame,
            "time": round(self.timestamp, 3),
            "player": self.player,
            "type": self.shot,
            "confidence": round(self.confidence, 3),
            "court_xy": _rounded(self.court_xy),
            "rally_id": self.rally_id,
        }


@dataclass(frozen=True)
class ShotUpdated:
    """A shot announced earlier, as later evidence now has it (its type once the next hit
    showed where the shuttle went, or its player)."""

    shot: ShotDetected

    def to_message(self) -> dict[str, Any]:
        return self.shot.to_message("shot_updated")


@dataclass(frozen=True)
class ShotRemoved:
    """A shot announced earlier that later evidence showed was no hit."""

    shot_id: int
    frame: int
    timestamp: float

    def to_message(self) -> dict[str, Any]:
        return {
            "type": "shot_removed",
            "shot_id": self.shot_id,
            "frame": self.frame,
            "timestamp": round(self.timestamp, 3),
        }


@dataclass(frozen=True)
class RallyStarted:
    rally_id: int
    frame: int
    timestamp: float

    def to_message(self) -> dict[str, Any]:
        return {
            "type": "rally_start",
            "rally_id": self.rally_id,
            "frame": self.frame,
            "timestamp": round(self.timestamp, 3),
        }


@dataclass(frozen=True)
class RallyEnded:
    rally_id: int
    start_frame: int
    end_frame: int
    shots: int
    duration: float
    timestamp: float

    def to_message(self) -> dict[str, Any]:
        return {
            "type": "rally_end",
            "rally_id": self.rally_id,
            "shots": self.shots,
            "duration": round(self.duration, 2),
            "frame": self.end_frame,
            "timestamp": round(self.timestamp, 3),
        }


@dataclass(frozen=True)
class StatsUpdate:
    total_shots: int
    current_rally: int
    rallies: int
    shot_distribution: dict[str, int] = field(default_factory=dict)
    distance_m: dict[str, float] = field(default_factory=dict)
    frame: int = 0
    timestamp: float = 0.0

    def to_message(self) -> dict[str, Any]:
        return {
            "type": "stats_update",
            "total_shots": self.total_shots,
            "current_rally": self.current_rally,
            "rallies": self.rallies,
            "shot_distribution": dict(self.shot_distribution),
            "distance_m": {k: round(v, 1) for k, v in self.distance_m.items()},
            "frame": self.frame,
            "timestamp": round(self.timestamp, 3),
        }


Event = (
    PositionUpdate
    | ShotDetected
    | ShotUpdated
    | ShotRemoved
    | RallyStarted
    | RallyEnded
    | StatsUpdate
)


def _rounded(xy: tuple[float, float] | None) -> list[float] | None:
    return None if xy is None else [round(float(xy[0]), 2), round(float(xy[1]), 2)]
