"""Rally segmentation: a rally opens at its first hit and closes when play stops."""

from __future__ import annotations

from dataclasses import dataclass, field

from analysis.events import RallyEnded, RallyStarted

# The longest flight between two hits in a rally (a high serve or clear) is under 2.5 s, but
# a hit or two the tracker missed (net shots lost against the tape) make gaps of 3-4 s inside
# a rally. Between rallies the shuttle is fetched and the server gets ready: 8 s and more.
# A pause longer than this means the shuttle is down.
MAX_GAP_S = 4.0


@dataclass
class Rally:
    rally_id: int
    hits: list[tuple[int, float]] = field(default_factory=list)  # (frame, time), time order
    last_seen_frame: int = 0
    last_seen_time: float = 0.0
    end_frame: int | None = None
    end_time: float | None = None

    @property
    def shots(self) -> int:
        return len(self.hits)

    @property
    def start_frame(self) -> int:
        return self.hits[0][0]

    @property
    def start_time(self) -> float:
        return self.hits[0][1]

    @property
    def last_hit_time(self) -> float:
        return self.hits[-1][1]

    def to_report(self) -> dict:
        end_frame = self.end_frame if self.end_frame is not None else self.last_seen_frame
        end_time = self.end_time if self.end_time is not None else self.last_seen_time
        return {
            "rally_id": self.rally_id,
            "start_frame": self.start_frame,
            "end_frame": end_frame,
            "start_time": round(self.start_time, 3),
            "end_time": round(end_time, 3),
            "duration": round(end_time - self.start_time, 2),
            "shots": self.shots,
        }


class RallyTracker:
    """Groups hits into rallies; `update` is called as the shuttle track advances.

    The hits of the open rally may still be revised: `on_hit` takes a hit anywhere in it,
    `on_removed` takes one out (a rally left without hits is dropped, and its number is the
    next rally's).
    """

    def __init__(self, max_gap: float = MAX_GAP_S) -> None:
        self.max_gap = max_gap
        self.rallies: list[Rally] = []
        self._open: Rally | None = None

    @property
    def current_id(self) -> int:
        """The open rally's id, or the id the next rally will get."""
        return self._open.rally_id if self._open else len(self.rallies) + 1

    @property
    def in_rally(self) -> bool:
        return self._open is not None

    def on_hit(self, frame: int, time: float) -> list[RallyStarted | RallyEnded]:
        """Registers a hit; returns the events it causes (a rally start, maybe an end first)."""
        events: list[RallyStarted | RallyEnded] = self.update(frame, time, shuttle_seen=True)
        if self._open is None:
            self._open = Rally(len(self.rallies) + 1, last_seen_frame=frame, last_seen_time=time)
            self.rallies.append(self._open)
            events.append(RallyStarted(self._open.rally_id, frame, time))
        rally = self._open
        rally.hits.append((frame, time))
        rally.hits.sort()
        if time > rally.last_seen_time:
            rally.last_seen_frame, rally.last_seen_time = frame, time
        return events

    def on_removed(self, frame: int) -> None:
        """Takes a hit of the open rally back (it turned out not to be one)."""
        rally = self._open
        if rally is None:
            return
        rally.hits = [h for h in rally.hits if h[0] != frame]
        if not rally.hits:
            self.rallies.pop()
            self._open = None

    def is_closed(self, rally_id: int) -> bool:
        return (
            0 < rally_id <= len(self.rallies) and self.rallies[rally_id - 1].end_frame is not None
        )

    def rally_of(self, frame: int) -> int | None:
        """The id of the rally a hit belongs to."""
        for rally in reversed(self.rallies):
            if any(f == frame for f, _ in rally.hits):
                return rally.rally_id
        return None

    def update(
        self, frame: int, time: float, shuttle_seen: bool
    ) -> list[RallyStarted | RallyEnded]:
        """Advances the clock; closes the open rally once play has stopped."""
        rally = self._open
        if rally is None:
            return []
        if shuttle_seen and time - rally.last_hit_time <= self.max_gap:
            rally.last_seen_frame, rally.last_seen_time = frame, time
        if time - rally.last_hit_time > self.max_gap:
            return [self._close()]
        return []

    def finish(self) -> list[RallyEnded]:
        """Closes the open rally at the end of the video or stream."""
        return [self._close()] if self._open else []

    def _close(self) -> RallyEnded:
        rally = self._open
        assert rally is not None
        last_frame, last_time = rally.hits[-1]
        rally.end_frame = max(rally.last_seen_frame, last_frame)
        rally.end_time = max(rally.last_seen_time, last_time)
        self._open = None
        return RallyEnded(
            rally.rally_id,
            rally.start_frame,
            rally.end_frame,
            rally.shots,
            rally.end_time - rally.start_time,
            rally.end_time,
        )
