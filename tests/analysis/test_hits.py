"""Choosing the hit sequence: candidates, turn-taking, the minimum gap, and the online picker
giving what a whole-track pass gives."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analysis.hit_sequence import (
    HIT_SMOOTHING_S,
    HITTER_SMOOTHING_S,
    Candidate,
    HitPicker,
    HitSequence,
    PickerParams,
    Sample,
    SequenceParams,
    pick_hits,
    smooth_in_time,
)


def sequence_of(*candidates: tuple[float, float, float], **params) -> list[tuple[float, str]]:
    """The best path over (time, hit probability, near probability) candidates."""
    sequence: HitSequence[int] = HitSequence(SequenceParams(**params))
    for i, (t, p, q) in enumerate(candidates):
        sequence.add(Candidate(t, p, q, i))
    return [(c.candidate.time, c.player) for c in sequence.path()]


def test_players_take_turns_when_the_hitter_evidence_is_weak():
    # Weak evidence for "near" twice in a row: the second hit goes to the far player.
    assert sequence_of((0.0, 0.9, 0.95), (1.0, 0.9, 0.6)) == [(0.0, "near"), (1.0, "far")]


def test_strong_evidence_beats_the_turn_order():
    # A hit in between was missed: the same player twice is allowed when the evidence is strong.
    path = sequence_of((0.0, 0.9, 0.98), (1.0, 0.9, 0.98), hitter_weight=1.0)
    assert path == [(0.0, "near"), (1.0, "near")]


def test_a_new_rally_starts_afresh():
    path = sequence_of((0.0, 0.9, 0.9), (10.0, 0.9, 0.6))
    assert path == [(0.0, "near"), (10.0, "near")]


def test_later_evidence_changes_an_earlier_hitter():
    """Who hit is decided by the whole sequence: a strong far hit after a weak guess flips
    the guess to the near player."""
    assert sequence_of((0.0, 0.9, 0.45)) == [(0.0, "far")]
    path = sequence_of((0.0, 0.9, 0.45), (0.8, 0.9, 0.02))
    assert path == [(0.0, "near"), (0.8, "far")]


def test_hits_closer_than_the_minimum_gap_are_one():
    path = sequence_of((0.0, 0.8, 0.9), (0.2, 0.9, 0.1), min_gap_s=0.3)
    assert len(path) == 1 and path[0][0] == 0.2


def test_a_weak_candidate_is_taken_only_when_the_turn_order_needs_it():
    # Alone, 0.2 is under the threshold; it is no hit.
    assert sequence_of((0.0, 0.2, 0.9)) == []
    # Between two strong near hits, a weak far candidate fills the missing turn.
    path = sequence_of((0.0, 0.9, 0.9), (0.6, 0.25, 0.1), (1.2, 0.9, 0.9), threshold=0.3)
    assert path == [(0.0, "near"), (0.6, "far"), (1.2, "near")]


def test_committed_hits_are_final_and_followed():
    sequence: HitSequence[int] = HitSequence(SequenceParams())
    sequence.add(Candidate(0.0, 0.9, 0.9, 0))
    sequence.add(Candidate(1.0, 0.9, 0.5, 1))
    assert [c.player for c in sequence.path()] == ["near", "far"]
    committed = sequence.commit(before=0.5)
    assert [(c.candidate.item, c.player) for c in committed] == [(0, "near")]
    assert sequence.last_committed is committed[0]
    # The next candidate follows the committed hit: the turn order still holds.
    sequence.add(Candidate(2.0, 0.9, 0.55, 2))
    assert [(c.candidate.item, c.player) for c in sequence.path()] == [(1, "far"), (2, "near")]
    # A candidate too close to the committed hit cannot be one.
    assert [c.candidate.item for c in sequence.commit(before=2.05)] == [1, 2]
    sequence.add(Candidate(2.1, 0.99, 0.5, 3))
    assert sequence.path() == []


def test_candidates_must_come_in_time_order():
    sequence: HitSequence[int] = HitSequence()
    sequence.add(Candidate(1.0, 0.9, 0.5, 0))
    with pytest.raises(ValueError):
        sequence.add(Candidate(0.5, 0.9, 0.5, 1))


def test_a_rally_opened_on_the_move_takes_the_missed_serve_before_it():
    """The server stands still until the serve; a first hit by a player who ran to it is a
    return, so a weak candidate of the other, still player before it was the serve."""
    serve = Candidate(0.0, 0.15, 0.2, 0, moved=(math.nan, 0.05))  # far player, still
    ret = Candidate(0.8, 0.9, 0.9, 1, moved=(0.8, 0.1))  # near player, on the move

    def path(penalty: float) -> list[tuple[int, str]]:
        sequence: HitSequence[int] = HitSequence(SequenceParams(moving_start_penalty=penalty))
        sequence.add(serve)
        sequence.add(ret)
        return [(c.candidate.item, c.player) for c in sequence.path()]

    assert path(0.0) == [(1, "near")]  # alone, 0.15 is under the threshold
    assert path(2.0) == [(0, "far"), (1, "near")]


def test_the_receiver_on_the_move_makes_no_serve_either():
    """Server and receiver both stand still until the serve: giving the hit to the player who
    stood still does not make it one (the hitter model's guess stands)."""
    sequence: HitSequence[int] = HitSequence(SequenceParams(moving_start_penalty=2.0))
    sequence.add(Candidate(0.0, 0.99, 0.6, 0, moved=(0.8, 0.0)))
    assert [c.player for c in sequence.path()] == ["near"]


def test_a_lone_hit_on_the_move_after_a_long_blind_spot_opens_no_rally():
    """Hits of a rally missed while the shuttle was lost leave a long pause; a weak hit after
    it, with both players running, is no serve nor a return of one: it opens no second
    rally."""
    sequence: HitSequence[int] = HitSequence(SequenceParams(moving_start_penalty=2.0))
    sequence.add(Candidate(0.0, 0.9, 0.9, 0, moved=(0.0, 0.0)))
    sequence.add(Candidate(0.7, 0.9, 0.1, 1, moved=(0.5, 0.6)))
    sequence.add(Candidate(4.0, 0.5, 0.1, 2, moved=(0.8, 0.6)))
    assert [c.candidate.item for c in sequence.path()] == [0, 1]
    # Without the rule it opens a rally of its own.
    sequence.set_params(SequenceParams())
    assert [c.candidate.item for c in sequence.path()] == [0, 1, 2]


def test_a_hit_on_the_move_after_a_possible_serve_opens_no_rally_alone():
    """One player running, and a faint candidate before that may be the serve (too weak to
    take): the hit is a return of a missed serve and opens no rally on its own."""
    sequence: HitSequence[int] = HitSequence(SequenceParams(moving_start_penalty=2.0))
    sequence.add(Candidate(0.0, 0.9, 0.9, 0, moved=(0.0, 0.0)))
    sequence.add(Candidate(0.7, 0.9, 0.1, 1, moved=(0.5, 0.6)))
    sequence.add(Candidate(3.5, 0.04, 0.5, 2, moved=(0.6, 0.7)))
    sequence.add(Candidate(4.0, 0.5, 0.1, 3, moved=(0.8, math.nan)))
    assert [c.candidate.item for c in sequence.path()] == [0, 1]
    sequence.set_params(SequenceParams())
    assert [c.candidate.item for c in sequence.path()] == [0, 1, 3]


def test_a_return_whose_serve_was_no_candidate_opens_the_rally():
    """A short serve returned at once: the serve's peak is within the minimum gap of the
    return (or the shuttle was not tracked yet), so no candidate may be the serve, and the
    confident return on the move opens the rally at no cost."""
    serve = Candidate(0.0, 0.12, 0.03, 0, moved=(0.1, 0.03))
    ret = Candidate(0.27, 0.68, 0.84, 1, moved=(0.68, 0.15))
    for candidates in ([serve, ret], [ret]):
        sequence: HitSequence[int] = HitSequence(SequenceParams(moving_start_penalty=2.0))
        for candidate in candidates:
            sequence.add(candidate)
        assert [(c.candidate.item, c.player) for c in sequence.path()] == [(1, "near")]


def test_whether_a_serve_may_precede_is_judged_before_commits_drop_candidates():
    """Committing drops the candidates before a time; a candidate added earlier keeps the
    serve before it that it had when it arrived."""
    sequence: HitSequence[int] = HitSequence(SequenceParams(moving_start_penalty=2.0))
    sequence.add(Candidate(0.0, 0.03, 0.5, 0, moved=(0.0, 0.0)))
    sequence.add(Candidate(1.5, 0.68, 0.84, 1, moved=(0.68, 0.15)))
    assert [c.candidate.item for c in sequence.path()] == []
    assert sequence.commit(before=1.0) == []
    assert [c.candidate.item for c in sequence.path()] == []


def test_a_still_opening_or_one_not_known_costs_nothing():
    for moved in [(0.1, 0.1), (math.nan, math.nan)]:
        sequence: HitSequence[int] = HitSequence(SequenceParams(moving_start_penalty=5.0))
        sequence.add(Candidate(0.0, 0.15, 0.2, 0, moved=(0.0, 0.0)))
        sequence.add(Candidate(0.8, 0.9, 0.9, 1, moved=moved))
        assert [c.candidate.item for c in sequence.path()] == [1]


def test_a_rally_after_a_long_pause_is_opened_again():
    """After `rally_gap_s` without a hit a new rally opens: on the move, it pays again, also
    after a committed hit."""
    params = SequenceParams(moving_start_penalty=2.0)
    sequence: HitSequence[int] = HitSequence(params)
    sequence.add(Candidate(0.0, 0.9, 0.9, 0, moved=(0.0, 0.0)))
    assert [c.candidate.item for c in sequence.commit(before=1.0)] == [0]
    sequence.add(Candidate(10.0, 0.15, 0.2, 1, moved=(0.0, 0.0)))
    sequence.add(Candidate(10.8, 0.9, 0.9, 2, moved=(0.8, 0.1)))
    assert [(c.candidate.item, c.player) for c in sequence.path()] == [(1, "far"), (2, "near")]
    # Within the rally (after the committed hit) the same hit opens nothing: no serve needed.
    sequence = HitSequence(params)
    sequence.add(Candidate(0.0, 0.9, 0.1, 0, moved=(0.0, 0.0)))
    sequence.commit(before=0.5)
    sequence.add(Candidate(0.6, 0.15, 0.2, 1, moved=(0.0, 0.0)))
    sequence.add(Candidate(1.4, 0.9, 0.9, 2, moved=(0.8, 0.1)))
    assert [c.candidate.item for c in sequence.path()] == [2]


@pytest.mark.parametrize("n", [0, 1, 2])
def test_short_tracks(n):
    times = np.arange(n) / 30
    hits = pick_hits(times, np.full(n, 0.9), np.full(n, 0.5), PickerParams())
    assert len(hits) == min(n, 1)


def test_a_plateau_gives_one_hit_and_peaks_keep_their_order():
    times = np.arange(90) / 30
    proba = np.zeros(90)
    proba[[20, 21, 22, 60]] = [0.8, 0.8, 0.8, 0.8]
    p_near = np.where(np.arange(90) < 40, 0.9, 0.1)
    hits = pick_hits(times, proba, p_near, PickerParams())
    assert [i for i, _, _ in hits] == [21, 60]
    assert [player for _, player, _ in hits] == ["near", "far"]


@pytest.mark.parametrize(
    ("interval", "expected"), [(1 / 60, 0.4), (1 / 30, 0.4), (1 / 15, 0.3), (0.2, 0.2)]
)
def test_the_threshold_follows_the_sample_rate(interval, expected):
    params = PickerParams(
        thresholds=((1 / 30, 0.4), (1 / 15, 0.3), (1 / 10, 0.2)), moving_start_penalty=1.5
    )
    assert params.threshold_for(interval) == pytest.approx(expected)
    assert params.threshold_for(None) == 0.4
    assert PickerParams.from_json(params.to_json()) == params


@pytest.mark.parametrize("fps", [30, 25, 15, 10])
def test_the_online_picker_chooses_what_a_whole_track_pass_chooses(fps):
    """Fed moment by moment, with jittered timestamps, as the HitDetector feeds it."""
    rng = np.random.default_rng(fps)
    for _ in range(10):
        n = int(rng.integers(1, 300))
        times = np.cumsum(rng.uniform(0.8, 1.2, n) / fps)
        proba, p_near = rng.beta(0.3, 2, n), rng.uniform(0, 1, n)
        moved = np.where(rng.uniform(0, 1, (n, 2)) < 0.1, np.nan, rng.uniform(0, 1, (n, 2)))
        params = PickerParams(moving_start_penalty=2.0)
        whole = pick_hits(times, proba, p_near, params, moved)
        picker: HitPicker[int] = HitPicker(params)
        online = []
        for i in range(n):
            moved_i = (float(moved[i, 0]), float(moved[i, 1]))
            picker.add(Sample(float(times[i]), float(proba[i]), float(p_near[i]), i, moved_i))
            committed, _ = picker.update()
            online += committed
        online += picker.update(final=True)[0]
        assert [(c.candidate.item, c.player) for c in online] == [(i, p) for i, p, _ in whole]


def test_open_hits_come_before_they_are_committed():
    picker: HitPicker[int] = HitPicker(PickerParams(), lookback_s=3.0)
    times = np.arange(60) / 30
    proba = np.where(np.arange(60) == 15, 0.9, 0.0)
    for i, t in enumerate(times):
        picker.add(Sample(float(t), float(proba[i]), 0.9, i))
        committed, open_hits = picker.update()
        assert not committed  # less than the look-back has passed
    assert [c.candidate.item for c in open_hits] == [15]


def test_smoothing_at_30_fps_averages_a_frame_either_side():
    times = np.arange(7) / 30
    values = np.array([0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0])
    smoothed = smooth_in_time(times, values, HIT_SMOOTHING_S, triangle=True)
    np.testing.assert_allclose(smoothed, [0, 0, 0.25, 0.5, 0.25, 0, 0], atol=1e-9)
    # At the ends only the samples that exist count.
    np.testing.assert_allclose(
        smooth_in_time(times[:2], np.array([1.0, 0.0]), HIT_SMOOTHING_S, triangle=True),
        [2 / 3, 1 / 3],
    )
    box = smooth_in_time(times, values, HITTER_SMOOTHING_S, triangle=False)
    np.testing.assert_allclose(box, [0, 0.25, 0.2, 0.2, 0.2, 0.25, 0], atol=1e-9)


def test_sparse_samples_are_not_smoothed_into_their_neighbours():
    """At 10 fps the neighbours are 0.1 s away: a hit's single strong sample keeps its score."""
    times = np.arange(7) * 0.1
    values = np.array([0.0, 0.0, 0.0, 0.9, 0.0, 0.0, 0.0])
    np.testing.assert_allclose(smooth_in_time(times, values, HIT_SMOOTHING_S, True), values)
