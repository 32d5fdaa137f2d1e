"""The shots announced so far, kept in line with the hit detector's latest view.

A shot is announced as soon as its hit is found, with the type its hit and the flight so far
suggest. The hit detector may still revise its latest hits (drop one, add one, give one to
the other player), and the next hit shows where the shuttle went, which types the shot
better: each revision becomes a `ShotUpdated` or a `ShotRemoved` event. A shot's first guess
also weighs the type of the shot before it, so it is guessed again when that one changes. A
shot is final once its hit is committed and its next hit too (or its rally is over).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from analysis.events import Event, RallyEnded, ShotDetected, ShotRemoved, ShotUpdated
from analysis.hits import Hit, HitUpdate
from analysis.racket_side import racket_foot
from analysis.rallies import RallyTracker
from analysis.shots import ShotType

# (hit, next hit of the rally or None, index in the rally, whether the rally is over, type of
# the rally's shot before or None) -> type
Classifier = Callable[[Hit, Hit | None, int, bool, ShotType | None], ShotType]


@dataclass
class _Entry:
    shot: ShotDetected
    hit: Hit
    typed_for: tuple  # what the type was worked out from (retyped when it changes)
    typed: ShotType | None = None
    committed: bool = False
    final: bool = False


class ShotBook:
    def __init__(self, classify: Classifier, rallies: RallyTracker) -> None:
        self._classify = classify
        self._rallies = rallies
        self._entries: list[_Entry] = []  # time order; final ones first
        self._settled = 0  # entries before this index are final
        self._next_id = 1
        self._removed = 0

    @property
    def shots(self) -> list[ShotDetected]:
        return [e.shot for e in self._entries]

    @property
    def revisions(self) -> int:
        """Announced shots removed so far (for diagnostics)."""
        return self._removed

    def apply(self, update: HitUpdate) -> list[Event]:
        """Brings the shots in line with the detector's hits; returns the events that does."""
        events: list[Event] = []
        for hit in update.committed:
            entry = self._entry(hit.frame)
            if entry is not None:
                entry.committed = True
        mutable = [e for e in self._entries if not e.committed]
        wanted = {h.frame: h for h in (*update.committed, *update.open)}
        for entry in mutable:
            if entry.hit.frame not in wanted:
                events += self._remove(entry)
        for hit in (*update.committed, *update.open):
            entry = self._entry(hit.frame)
            if entry is None:
                events += self._add(hit, committed=hit in update.committed)
            elif not entry.final and entry.hit.player != hit.player:
                entry.hit = hit
        events += self._retype()
        return events

    def rally_ended(self, ended: RallyEnded) -> list[Event]:
        """The rally's last shot has no next hit: it is final as it stands."""
        events = self._retype()
        for entry in self._entries[self._settled :]:
            if entry.shot.rally_id == ended.rally_id:
                entry.final = True
        return events

    def finish(self) -> list[Event]:
        events = self._retype()
        for entry in self._entries[self._settled :]:
            entry.committed = entry.final = True
        return events

    def _entry(self, frame: int) -> _Entry | None:
        for entry in reversed(self._entries):
            if entry.hit.frame == frame:
                return entry
            if entry.hit.frame < frame:
                return None
        return None

    def _add(self, hit: Hit, committed: bool) -> list[Event]:
        events: list[Event] = list(self._rallies.on_hit(hit.frame, hit.time))
        if events and isinstance(events[0], RallyEnded):
            events += self.rally_ended(events[0])
        rally_id = self._rallies.rally_of(hit.frame) or self._rallies.current_id
        shot = ShotDetected(
            hit.player, "", 0.0, hit.frame, hit.time, rally_id, self._position(hit), self._next_id
        )
        self._next_id += 1
        entry = _Entry(shot, hit, typed_for=(), committed=committed)
        self._entries.append(entry)
        self._entries.sort(key=lambda e: e.hit.frame)
        return events

    def _position(self, hit: Hit) -> tuple[float, float] | None:
        """Where the shot of `hit` was played from: its hitter's racket-side foot."""
        earlier = (e.hit for e in reversed(self._entries) if e.hit.frame < hit.frame)
        return racket_foot(hit, earlier)

    def _remove(self, entry: _Entry) -> list[Event]:
        self._entries.remove(entry)
        self._rallies.on_removed(entry.hit.frame)
        self._removed += 1
        return [ShotRemoved(entry.shot.shot_id, entry.shot.frame, entry.shot.timestamp)]

    def _retype(self) -> list[Event]:
        """Types every shot that is not final from its hit and its neighbours, and tells of
        new shots and of changed ones."""
        events: list[Event] = []
        entries = self._entries
        while self._settled < len(entries) and entries[self._settled].final:
            self._settled += 1
        for k in range(self._settled, len(entries)):
            entry = entries[k]
            rally_id = self._rallies.rally_of(entry.hit.frame) or entry.shot.rally_id
            index = 0  # shots of the same rally before this one
            while index < k and _rally(entries[k - index - 1]) == rally_id:
                index += 1
            previous = entries[k - 1] if index > 0 else None
            after = entries[k + 1] if k + 1 < len(entries) else None
            nxt = after.hit if after is not None and _rally(after) == rally_id else None
            over = self._rallies.is_closed(rally_id)
            before = previous.typed if previous is not None else None
            key = (entry.hit.player, previous and previous.hit.frame, before)
            key += (nxt and (nxt.frame, nxt.player), index, over)
            if key != entry.typed_for:
                entry.typed_for = key
                events += self._type(entry, nxt, index, over, rally_id, before)
            if entry.committed and after is not None and after.committed:
                entry.final = True
        return events

    def _type(
        self,
        entry: _Entry,
        nxt: Hit | None,
        index: int,
        over: bool,
        rally_id: int,
        before: ShotType | None,
    ) -> list[Event]:
        shot_type = self._classify(entry.hit, nxt, index, over, before)
        entry.typed = shot_type
        new = replace(
            entry.shot,
            player=entry.hit.player,
            shot=shot_type.type,
            confidence=shot_type.confidence,
            rally_id=rally_id,
            court_xy=self._position(entry.hit),
        )
        old = entry.shot
        entry.shot = new
        if old.shot == "":
            return [new]
        if new.to_report() != old.to_report():
            return [ShotUpdated(new)]
        return []


def _rally(entry: _Entry) -> int:
    return entry.shot.rally_id
