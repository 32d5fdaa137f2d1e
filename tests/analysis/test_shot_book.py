"""Announced shots follow the hit detector's revisions: updates, removals, and final shots."""

from __future__ import annotations

import numpy as np

from analysis.events import RallyStarted, ShotDetected, ShotRemoved, ShotUpdated
from analysis.hits import Hit, HitUpdate
from analysis.players import PlayerObservation
from analysis.rallies import RallyTracker
from analysis.shot_book import ShotBook
from analysis.shots import ShotType


def hit(frame: int, player: str) -> Hit:
    return Hit(frame, frame / 30, player, 0.9, None)


class Typer:
    """Types a shot "net_shot" while the next hit is unknown, "lift" once it is, "smash" when
    the rally ended without a next hit; records what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None, int, bool]] = []
        self.previous: list[tuple[int, str | None]] = []  # (frame, type of the shot before)

    def __call__(
        self, h: Hit, nxt: Hit | None, index: int, over: bool, previous: ShotType | None
    ) -> ShotType:
        self.calls.append((h.frame, nxt.frame if nxt else None, index, over))
        self.previous.append((h.frame, previous.type if previous else None))
        if nxt is not None:
            return ShotType("lift", 0.8)
        return ShotType("smash" if over else "net_shot", 0.5)


def apply_messages(messages: list[dict]) -> dict[int, dict]:
    """The shots a page shows after these messages, by id."""
    shots: dict[int, dict] = {}
    for m in messages:
        if m["type"] in ("shot_detected", "shot_updated"):
            shots[m["shot_id"]] = m
        elif m["type"] == "shot_removed":
            shots.pop(m["shot_id"])
    return shots


def test_a_shot_is_announced_at_once_and_retyped_when_the_next_hit_comes():
    typer = Typer()
    book = ShotBook(typer, RallyTracker())
    first = book.apply(HitUpdate([], [hit(30, "near")]))
    assert isinstance(first[0], RallyStarted)
    (detected,) = [e for e in first if isinstance(e, ShotDetected)]
    assert (detected.shot, detected.shot_id, detected.rally_id) == ("net_shot", 1, 1)

    second = book.apply(HitUpdate([], [hit(30, "near"), hit(60, "far")]))
    updated = [e for e in second if isinstance(e, ShotUpdated)]
    assert [(u.shot.shot_id, u.shot.shot) for u in updated] == [(1, "lift")]
    assert [s.shot for s in book.shots] == ["lift", "net_shot"]
    assert [s.shot_id for s in book.shots] == [1, 2]


def test_a_withdrawn_hit_is_removed_and_its_neighbour_retyped():
    book = ShotBook(Typer(), RallyTracker())
    events = book.apply(HitUpdate([], [hit(30, "near"), hit(60, "far")]))
    events += book.apply(HitUpdate([], [hit(30, "near")]))
    removed = [e for e in events if isinstance(e, ShotRemoved)]
    assert [r.shot_id for r in removed] == [2]
    assert [(s.shot_id, s.shot) for s in book.shots] == [(1, "net_shot")]
    assert book.revisions == 1
    messages = [e.to_message() for e in events]
    assert {k: v["shot"] for k, v in apply_messages(messages).items()} == {1: "net_shot"}


def test_a_changed_hitter_is_an_update():
    book = ShotBook(Typer(), RallyTracker())
    book.apply(HitUpdate([], [hit(30, "near")]))
    events = book.apply(HitUpdate([], [hit(30, "far")]))
    (update,) = [e for e in events if isinstance(e, ShotUpdated)]
    assert (update.shot.shot_id, update.shot.player) == (1, "far")


def test_committed_shots_become_final_and_are_not_revised():
    typer = Typer()
    book = ShotBook(typer, RallyTracker())
    book.apply(HitUpdate([hit(30, "near"), hit(60, "far")], [hit(90, "near")]))
    calls = len(typer.calls)
    # The detector no longer lists the committed hits among the open ones: they stay.
    book.apply(HitUpdate([], [hit(90, "near")]))
    assert [s.frame for s in book.shots] == [30, 60, 90]
    assert len(typer.calls) == calls  # nothing to type again


def test_the_last_shot_of_a_rally_is_typed_as_such_when_the_rally_ends():
    rallies = RallyTracker(max_gap=3.0)
    book = ShotBook(Typer(), rallies)
    book.apply(HitUpdate([hit(30, "near")], []))
    (ended,) = rallies.update(300, 10.0, shuttle_seen=False)
    events = book.rally_ended(ended)
    assert [(e.shot.shot_id, e.shot.shot) for e in events if isinstance(e, ShotUpdated)] == [
        (1, "smash")
    ]
    # The next rally's shots get the next rally's number.
    events = book.apply(HitUpdate([], [hit(600, "far")]))
    (detected,) = [e for e in events if isinstance(e, ShotDetected)]
    assert detected.rally_id == 2


def test_a_rally_whose_only_hit_is_withdrawn_is_dropped():
    rallies = RallyTracker()
    book = ShotBook(Typer(), rallies)
    book.apply(HitUpdate([], [hit(30, "near")]))
    assert len(rallies.rallies) == 1
    book.apply(HitUpdate([], []))
    assert rallies.rallies == [] and rallies.current_id == 1


class HitterTyper(Typer):
    """Once the next hit is known: a near player's shot is a lift, a far player's a smash."""

    def __call__(
        self, h: Hit, nxt: Hit | None, index: int, over: bool, previous: ShotType | None
    ) -> ShotType:
        shot_type = super().__call__(h, nxt, index, over, previous)
        if nxt is None:
            return shot_type
        return ShotType("lift" if h.player == "near" else "smash", 0.8, (0.8, 0.2))


def test_a_first_guess_is_given_the_type_of_the_shot_before_and_made_again_when_it_changes():
    typer = HitterTyper()
    book = ShotBook(typer, RallyTracker())
    book.apply(HitUpdate([], [hit(30, "near")]))
    book.apply(HitUpdate([], [hit(30, "near"), hit(60, "far")]))
    assert typer.previous == [(30, None), (30, None), (60, "lift")]

    # The first shot's hitter changes, and with it its type: the second shot's first guess is
    # made again with it, though nothing of its own hit changed.
    typer.previous.clear()
    events = book.apply(HitUpdate([], [hit(30, "far"), hit(60, "far")]))
    assert typer.previous == [(30, None), (60, "smash")]
    assert [(u.shot.shot_id, u.shot.shot) for u in events if isinstance(u, ShotUpdated)] == [
        (1, "smash")
    ]

    # A new rally's first shot has no shot before it.
    typer.previous.clear()
    book.apply(HitUpdate([], [hit(30, "far"), hit(60, "far"), hit(900, "near")]))
    assert (900, None) in typer.previous


def test_shots_are_placed_at_the_racket_side_foot():
    """A left-hander's lunges lead with the left foot: their shots from the back court are
    then placed at the left foot too."""

    def seen(frame: int, player: str, left_y: float, right_y: float) -> Hit:
        feet = np.array([[2.5, left_y], [3.5, right_y]])
        obs = PlayerObservation(player, frame, frame / 30, None, np.zeros(2), feet.mean(0), feet)
        return Hit(frame, frame / 30, player, 0.9, None, hitter=obs)

    hits = [
        seen(30, "near", 8.0, 8.8),  # lunges on the left foot
        seen(60, "far", 1.0, 1.0),
        seen(90, "near", 7.9, 8.9),
        seen(120, "far", 1.0, 1.0),
        seen(150, "near", 12.0, 12.0),  # at the back
    ]
    book = ShotBook(Typer(), RallyTracker())
    book.apply(HitUpdate([], hits))
    assert [s.court_xy for s in book.shots] == [
        (2.5, 8.0),
        (3.5, 1.0),
        (2.5, 7.9),
        (3.5, 1.0),
        (2.5, 12.0),
    ]
