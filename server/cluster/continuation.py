"""A session continued on another node after its node was lost: the results of the part
before (rebuilt from the messages its node published) and how the new part's results follow
them: its times, frames, shot and rally numbers shifted past the gap, its totals added on."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SIDES = ("near", "far")


@dataclass
class Earlier:
    """The results of the part before, as its messages left them (revisions applied)."""

    shots: dict[int, dict[str, Any]] = field(default_factory=dict)
    rallies: dict[int, dict[str, Any]] = field(default_factory=dict)
    positions: dict[str, list[list[float]]] = field(default_factory=lambda: {s: [] for s in SIDES})
    distance_m: dict[str, float] = field(default_factory=dict)
    last_time: float = 0.0
    last_frame: int = -1

    @classmethod
    def from_messages(cls, messages: list[dict[str, Any]]) -> Earlier:
        earlier = cls()
        for message in messages:
            earlier.add(message)
        return earlier

    def add(self, m: dict[str, Any]) -> None:
        kind = m.get("type")
        if isinstance(m.get("timestamp"), int | float):
            self.last_time = max(self.last_time, float(m["timestamp"]))
        if isinstance(m.get("frame"), int):
            self.last_frame = max(self.last_frame, m["frame"])
        if kind in ("shot_detected", "shot_updated"):
            self.shots[m["shot_id"]] = {
                "shot_id": m["shot_id"],
                "frame": m["frame"],
                "time": m["timestamp"],
                "player": m["player"],
                "type": m["shot"],
                "confidence": m["confidence"],
                "court_xy": m.get("court_xy"),
                "rally_id": m["rally_id"],
            }
        elif kind == "shot_removed":
            self.shots.pop(m["shot_id"], None)
        elif kind == "rally_start":
            self.rallies[m["rally_id"]] = {
                "rally_id": m["rally_id"],
                "start_frame": m["frame"],
                "start_time": m["timestamp"],
            }
        elif kind == "rally_end" and m["rally_id"] in self.rallies:
            self.rallies[m["rally_id"]].update(
                end_frame=m["frame"], end_time=m["timestamp"], shots=m["shots"]
            )
        elif kind == "position_update" and m.get("player") in SIDES:
            self.positions[m["player"]].append([m["frame"], m["x"], m["y"]])
        elif kind == "stats_update":
            self.distance_m = dict(m.get("distance_m") or {})

    def shot_list(self) -> list[dict[str, Any]]:
        return sorted(self.shots.values(), key=lambda s: s["time"])

    def rally_list(self) -> list[dict[str, Any]]:
        """Every rally, one still open when the node was lost closed at its last shot."""
        rallies = []
        for rally_id, rally in sorted(self.rallies.items()):
            shots = [s for s in self.shots.values() if s["rally_id"] == rally_id]
            last = max(shots, key=lambda s: s["time"], default=None)
            end_frame = rally.get("end_frame", last["frame"] if last else rally["start_frame"])
            end_time = rally.get("end_time", last["time"] if last else rally["start_time"])
            rallies.append(
                {
                    "rally_id": rally_id,
                    "start_frame": rally["start_frame"],
                    "end_frame": end_frame,
                    "start_time": rally["start_time"],
                    "end_time": end_time,
                    "duration": round(end_time - rally["start_time"], 2),
                    "shots": rally.get("shots", len(shots)),
                }
            )
        return rallies


class Continuation:
    """How the results of a session's new part follow those of the part before the gap."""

    def __init__(
        self,
        earlier: Earlier,
        gap: dict[str, str | None],
        fps: float,
        court: dict[str, Any],
        frame_size: list[int],
    ) -> None:
        self.earlier = earlier
        self.court = court
        self.frame_size = frame_size
        self.fps = fps
        gap_s = max(0.0, (_utc(gap["to"]) - _utc(gap["from"])).total_seconds())
        # The new part's time zero is the end of the gap, in the session's time.
        self.time_offset = round(earlier.last_time + gap_s, 3)
        self.frame_offset = earlier.last_frame + 1 + round(gap_s * fps)
        self.shot_offset = max(earlier.shots, default=0)
        self.rally_offset = max(earlier.rallies, default=0)
        self._shots = earlier.shot_list()
        self._rallies = earlier.rally_list()
        self._distribution = Counter(s["type"] for s in self._shots)

    def message(self, m: dict[str, Any]) -> dict[str, Any]:
        """A message of the new part as the session's clients see it."""
        m = dict(m)
        if isinstance(m.get("timestamp"), int | float):
            m["timestamp"] = round(m["timestamp"] + self.time_offset, 3)
        if isinstance(m.get("frame"), int):
            m["frame"] += self.frame_offset
        if "shot_id" in m:
            m["shot_id"] += self.shot_offset
        if isinstance(m.get("rally_id"), int):
            m["rally_id"] += self.rally_offset
        if m.get("type") == "stats_update":
            m["total_shots"] = m.get("total_shots", 0) + len(self._shots)
            m["rallies"] = m.get("rallies", 0) + len(self._rallies)
            if m.get("current_rally"):
                m["current_rally"] += self.rally_offset
            m["shot_distribution"] = dict(
                self._distribution + Counter(m.get("shot_distribution") or {})
            )
            m["distance_m"] = {
                side: round(
                    self.earlier.distance_m.get(side, 0.0)
                    + (m.get("distance_m") or {}).get(side, 0.0),
                    1,
                )
                for side in SIDES
            }
        return m

    def report(self, later: dict[str, Any] | None) -> dict[str, Any] | None:
        """The whole session's report: the part before the gap, then the new part's report
        (None: nothing analysed in either)."""
        if later is None:
            if not self._shots and not any(self.earlier.positions.values()):
                return None
            later = self._empty_report()
        t, f = self.time_offset, self.frame_offset
        shots = self._shots + [
            {
                **s,
                "shot_id": s["shot_id"] + self.shot_offset,
                "frame": s["frame"] + f,
                "time": round(s["time"] + t, 3),
                "rally_id": s["rally_id"] + self.rally_offset
                if isinstance(s.get("rally_id"), int)
                else s.get("rally_id"),
            }
            for s in later["shots"]
        ]
        rallies = self._rallies + [
            {
                **r,
                "rally_id": r["rally_id"] + self.rally_offset,
                "start_frame": r["start_frame"] + f,
                "end_frame": r["end_frame"] + f,
                "start_time": round(r["start_time"] + t, 3),
                "end_time": round(r["end_time"] + t, 3),
            }
            for r in later["rallies"]
        ]
        players = {
            side: {
                "distance_m": round(
                    self.earlier.distance_m.get(side, 0.0) + later["players"][side]["distance_m"],
                    1,
                ),
                "positions": self.earlier.positions[side]
                + [[p[0] + f, *p[1:]] for p in later["players"][side]["positions"]],
            }
            for side in SIDES
        }
        distribution = Counter(s["type"] for s in shots)
        video = later["video"]
        return {
            **later,
            "video": {
                **video,
                "frames": video["frames"] + f,
                "duration": round(video["duration"] + t, 3),
            },
            "shots": shots,
            "rallies": rallies,
            "players": players,
            "summary": {
                "total_shots": len(shots),
                "rallies": len(rallies),
                "shot_distribution": {k: distribution[k] for k in sorted(distribution)},
            },
        }

    def _empty_report(self) -> dict[str, Any]:
        """The new part's report when it analysed nothing (its phone never came back)."""
        return {
            "schema": 1,
            "video": {
                "fps": self.fps,
                "frames": 0,
                "width": self.frame_size[0],
                "height": self.frame_size[1],
                "duration": 0.0,
            },
            "court": self.court,
            "shots": [],
            "rallies": [],
            "players": {side: {"distance_m": 0.0, "positions": []} for side in SIDES},
        }


def _utc(moment: str | None) -> datetime:
    assert moment is not None
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))
