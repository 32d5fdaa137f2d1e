"""Hit peak picking and turn-taking attribution."""

from __future__ import annotations

import numpy as np
import pytest

from analysis.hits import HitterSequence, pick_hits


@pytest.mark.parametrize("n", [0, 1, 2])
def test_short_tracks(n):
    times = np.arange(n) / 30
    hits = pick_hits(times, np.full(n, 0.9), np.full(n, 0.5))
    assert len(hits) == min(n, 1)


def test_peaks_are_separated_and_in_time_order():
    times = np.arange(90) / 30
    proba = np.zeros(90)
    proba[[20, 21, 22, 60]] = [0.8, 0.7, 0.8, 0.8]  # a plateau: its middle wins
    hits = pick_hits(times, proba, np.full(90, 0.9), threshold=0.2)
    assert [i for i, _, _ in hits] == [21, 60]


def test_players_take_turns_when_the_evidence_is_weak():
    sequence = HitterSequence()
    assert sequence.assign(0.0, 0.95) == "near"
    # Weak evidence for near again: the turn order wins.
    assert sequence.assign(1.0, 0.6) == "far"
    # Strong evidence beats the turn order (a hit in between was missed).
    assert sequence.assign(2.0, 0.02) == "far"
    # After a long pause a new rally starts: no turn order.
    assert sequence.assign(10.0, 0.7) == "near"
