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
    Chosen,
    HitPicker,
    HitSequence,
    PickerParams,
    Sample,
    SequenceParams,
    landed,
    pick_hits,
    smooth_in_time,
)
from analysis.hits import HeldOpenHits


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
    sequence.add(Candidate(5.0, 0.5, 0.1, 2, moved=(0.8, 0.6)))
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
    sequence.add(Candidate(4.5, 0.04, 0.5, 2, moved=(0.6, 0.7)))
    sequence.add(Candidate(5.0, 0.5, 0.1, 3, moved=(0.8, math.nan)))
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


def _rally_ending_in_a_landing(fps: float, seen_after_last: bool, later_hit: bool):
    """A rally at `fps`: hits at 0.5 s (near), 1.3 s (far) and a last candidate at 2.1 s
    (near); the shuttle is seen everywhere but after 2.1 s (unless `seen_after_last`), and
    a far hit at 2.9 s when `later_hit`."""
    times = np.arange(int(6 * fps)) / fps
    proba = np.zeros(len(times))
    for t in (0.5, 1.3, 2.1) + ((2.9,) if later_hit else ()):
        proba[int(round(t * fps))] = 0.9
    p_near = np.where((times < 1.0) | ((times > 1.8) & (times < 2.5)), 0.9, 0.1)
    seen = np.ones(len(times), dtype=bool)
    if not seen_after_last:
        seen[times > 2.15] = False
        if later_hit:  # the shuttle is lost in flight, and seen again from the return on
            seen[times > 2.8] = True
    return times, proba, p_near, seen


@pytest.mark.parametrize("fps", [30, 15, 10])
def test_a_rally_does_not_end_where_the_shuttle_landed(fps):
    """A kink where the shuttle stops for good (it fell, or a player caught it) is no hit:
    the rally ends at the hit before it."""
    times, proba, p_near, seen = _rally_ending_in_a_landing(fps, False, False)
    hits = pick_hits(times, proba, p_near, PickerParams(), seen=seen)
    assert [round(times[i], 1) for i, _, _ in hits] == [0.5, 1.3]
    # The same kink with the shuttle flying on after it is a hit.
    times, proba, p_near, seen = _rally_ending_in_a_landing(fps, True, False)
    hits = pick_hits(times, proba, p_near, PickerParams(), seen=seen)
    assert [round(times[i], 1) for i, _, _ in hits] == [0.5, 1.3, 2.1]


def test_a_later_hit_proves_a_flight_that_was_not_seen():
    times, proba, p_near, seen = _rally_ending_in_a_landing(30, False, True)
    hits = pick_hits(times, proba, p_near, PickerParams(), seen=seen)
    assert [(round(times[i], 1), side) for i, side, _ in hits] == [
        (0.5, "near"),
        (1.3, "far"),
        (2.1, "near"),
        (2.9, "far"),
    ]


def test_a_landing_is_judged_once_the_window_after_it_is_over():
    times = np.arange(40) / 30
    seen = times < 0.2
    assert landed(times[:20], seen[:20], 0.1, newest=float(times[19])) is None
    assert landed(times, seen, 0.1, newest=float(times[-1])) is True
    assert landed(times, np.ones(40, dtype=bool), 0.1, newest=float(times[-1])) is False
    # The track ends before the window is over: what was seen of it counts.
    assert landed(times[:20], seen[:20], 0.1, newest=float(times[19]), final=True) is True
    # Nothing of the window was fed: not known.
    assert landed(times[:5], seen[:5], 0.1, newest=float(times[4]), final=True) is None


def test_a_landing_shown_live_is_never_committed():
    """Live, the landing is an open hit until its rally is over (a later hit could still
    prove its flight); then it is withdrawn rather than made final."""
    times, proba, p_near, seen = _rally_ending_in_a_landing(30, False, False)
    picker: HitPicker[int] = HitPicker(PickerParams(), lookback_s=3.0)
    committed, open_after = [], {}
    for i, t in enumerate(times):
        picker.add(Sample(float(t), float(proba[i]), float(p_near[i]), i, seen=bool(seen[i])))
        final, open_hits = picker.update()
        committed += [round(times[c.candidate.item], 1) for c in final]
        open_after[round(float(t), 2)] = [round(times[c.candidate.item], 1) for c in open_hits]
    committed += [round(times[c.candidate.item], 1) for c in picker.update(final=True)[0]]
    assert open_after[2.5] == [0.5, 1.3, 2.1]
    assert open_after[5.5] == []
    assert committed == [0.5, 1.3]


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
        # The shuttle unseen in runs of a few frames to a second.
        seen = np.repeat(rng.uniform(0, 1, n) < 0.6, rng.integers(1, 30, n))[:n]
        params = PickerParams(moving_start_penalty=2.0)
        whole = pick_hits(times, proba, p_near, params, moved, seen)
        picker: HitPicker[int] = HitPicker(params)
        online = []
        for i in range(n):
            moved_i = (float(moved[i, 0]), float(moved[i, 1]))
            sample = Sample(float(times[i]), float(proba[i]), float(p_near[i]), i, moved_i, seen[i])
            picker.add(sample)
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


def chosen(time: float, player: str = "near") -> Chosen[int]:
    return Chosen(Candidate(time, 0.9, 0.9, 0), player)


def test_an_open_hit_is_told_once_it_holds_after_more_track():
    held = HeldOpenHits()
    # 0.5: a committed hit of the same rally before it.
    assert held.filter([chosen(1.0)], newest=1.6, before=0.5) == []  # just taken
    assert held.filter([chosen(1.0)], newest=1.6, before=0.5) == []  # no new track: no new look
    assert [c.candidate.time for c in held.filter([chosen(1.0)], newest=1.8, before=0.5)] == [1.0]
    # Given to the other player, it is still the same hit, and still told.
    told = held.filter([chosen(1.0, "far")], newest=2.0, before=0.5)
    assert [c.player for c in told] == ["far"]


def test_the_earliest_hit_held_back_is_known():
    held = HeldOpenHits()
    held.filter([chosen(1.0)], newest=1.6, before=0.5)
    assert held.waiting == 1.0  # rallies must not be closed past it before it is told
    held.filter([chosen(1.0), chosen(1.5)], newest=1.8, before=0.5)
    assert held.waiting == 1.5
    held.filter([chosen(1.0), chosen(1.5)], newest=2.0, before=0.5)
    assert held.waiting is None


def test_a_hit_dropped_at_the_next_look_is_never_told():
    held = HeldOpenHits()
    assert held.filter([chosen(1.0)], newest=1.6, before=0.5) == []
    # A moment after it was the better one.
    assert held.filter([chosen(1.2)], newest=1.8, before=0.5) == []
    assert held.filter([], newest=2.0, before=0.5) == []
    # Taken again later, it waits for another look like a new one.
    assert held.filter([chosen(1.0)], newest=2.2, before=0.5) == []
    assert [c.candidate.time for c in held.filter([chosen(1.0)], newest=2.4, before=0.5)] == [1.0]


def test_a_rallys_first_hit_waits_for_a_second():
    # The first hit of the stream, and one long after the last committed hit: both open a
    # rally, and wait however many looks they survive.
    first_of_stream = HeldOpenHits(rally_gap_s=4.0)
    held = HeldOpenHits(rally_gap_s=4.0)
    for newest in (10.6, 10.8, 11.0):
        assert first_of_stream.filter([chosen(10.0)], newest=newest) == []
        assert first_of_stream.waiting == 10.0
        assert held.filter([chosen(10.0)], newest=newest, before=1.0) == []
        assert held.waiting == 10.0
    # The return stands: both are told (the return once it too has had a second look).
    told = held.filter([chosen(10.0), chosen(11.0, "far")], newest=11.4, before=1.0)
    assert [c.candidate.time for c in told] == [10.0]
    assert held.waiting == 11.0
    told = held.filter([chosen(10.0), chosen(11.0, "far")], newest=11.6, before=1.0)
    assert [c.candidate.time for c in told] == [10.0, 11.0]
    # Told once, the serve stays told while it is kept, even when its return goes.
    assert [c.candidate.time for c in held.filter([chosen(10.0)], newest=11.8, before=1.0)] == [
        10.0
    ]


def test_a_moment_before_the_serve_is_never_told():
    """Moments in the still seconds before a serve may be taken for it until the serve
    comes: they are held, and dropped without ever being told."""
    held = HeldOpenHits(rally_gap_s=4.0)
    for newest in (0.6, 0.8):
        assert held.filter([chosen(0.2, "far")], newest=newest) == []
    # The real serve and its return: the early moment is gone, the serve is told.
    assert held.filter([chosen(0.7), chosen(1.6, "far")], newest=2.0) == []
    told = held.filter([chosen(0.7), chosen(1.6, "far")], newest=2.2)
    assert [(c.candidate.time, c.player) for c in told] == [(0.7, "near"), (1.6, "far")]


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
