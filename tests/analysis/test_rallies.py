"""Rally segmentation from hit times."""

from __future__ import annotations

from analysis.events import RallyEnded, RallyStarted
from analysis.rallies import RallyTracker


def feed(tracker: RallyTracker, hits: list[float], until: float, fps: float = 30.0) -> list:
    events = []
    pending = sorted(hits)
    for frame in range(int(until * fps)):
        t = frame / fps
        while pending and pending[0] <= t:
            events += tracker.on_hit(frame, pending.pop(0))
        events += tracker.update(frame, t, shuttle_seen=True)
    return events + tracker.finish()


def test_one_rally_with_long_clears():
    tracker = RallyTracker()
    events = feed(tracker, [1.0, 2.2, 4.4, 5.0, 6.1], until=8.0)
    assert [type(e) for e in events] == [RallyStarted, RallyEnded]
    assert events[1].shots == 5
    assert tracker.rallies[0].to_report()["start_frame"] == 30


def test_missed_hits_do_not_split_a_rally_but_fetching_the_shuttle_does():
    """Three net shots lost against the tape leave 3.5 s without a hit inside a rally; between
    rallies the shuttle is fetched and the server gets ready, 8 s and more."""
    tracker = RallyTracker()
    events = feed(tracker, [1.0, 1.8, 5.3, 6.0, 14.0, 14.9], until=20.0)
    ends = [e for e in events if isinstance(e, RallyEnded)]
    assert [e.shots for e in ends] == [4, 2]


def test_pause_splits_rallies_and_ends_after_the_gap():
    tracker = RallyTracker(max_gap=3.0)
    events = feed(tracker, [1.0, 2.0, 3.0, 10.0, 11.0], until=20.0)
    ends = [e for e in events if isinstance(e, RallyEnded)]
    assert [e.shots for e in ends] == [3, 2]
    assert [e.rally_id for e in ends] == [1, 2]
    # The first rally closes once 3 s pass without a hit, not at the next serve.
    first_end = events.index(ends[0])
    assert isinstance(events[first_end + 1], RallyStarted)
    assert ends[0].end_frame <= int(6.0 * 30) + 1


def test_no_hits_no_rallies():
    tracker = RallyTracker()
    assert feed(tracker, [], until=5.0) == []
    assert tracker.current_id == 1 and not tracker.in_rally
