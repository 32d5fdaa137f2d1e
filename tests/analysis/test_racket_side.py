"""The foot a shot is played from: the lunge foot at the net, the racket side elsewhere."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from analysis.court import NET_Y
from analysis.hits import Hit
from analysis.players import PlayerObservation
from analysis.racket_side import RECENT_HITS, RECENT_LUNGES, racket_foot

NEAR_FRONT = 8.0  # court y of a near player's foot 1.3 m from the net
NEAR_BACK = 12.0


def hit(frame: int, player: str, left: tuple[float, float], right: tuple[float, float]) -> Hit:
    feet = np.array([left, right], dtype=float)
    obs = PlayerObservation(player, frame, frame / 30, None, np.zeros(2), feet.mean(axis=0), feet)
    return Hit(frame, frame / 30, player, 0.9, None, hitter=obs)


def lunge(frame: int, player: str, lead: str) -> Hit:
    """A hit at the net, the `lead` foot ("left" | "right") 0.8 m nearer the net."""
    if player == "near":
        ahead, behind = (3.0, NEAR_FRONT), (3.4, NEAR_FRONT + 0.8)
    else:
        ahead, behind = (3.0, 13.4 - NEAR_FRONT), (3.4, 13.4 - NEAR_FRONT - 0.8)
    return hit(frame, player, *((ahead, behind) if lead == "left" else (behind, ahead)))


def back(frame: int, player: str) -> Hit:
    y = NEAR_BACK if player == "near" else 13.4 - NEAR_BACK
    return hit(frame, player, (2.5, y), (3.5, y))


@pytest.mark.parametrize("player", ["near", "far"])
@pytest.mark.parametrize("lead", ["left", "right"])
def test_a_lunge_is_played_from_the_foot_nearer_the_net(player, lead):
    h = lunge(30, player, lead)
    expected = h.hitter.feet_xy[0 if lead == "left" else 1]
    assert racket_foot(h, []) == pytest.approx(tuple(expected))


def test_a_player_is_right_handed_until_the_lunges_say_otherwise():
    h = back(300, "near")
    right = tuple(h.hitter.feet_xy[1])
    assert racket_foot(h, []) == pytest.approx(right)
    # One lunge on the left foot is not enough; two are.
    assert racket_foot(h, [lunge(200, "near", "left")]) == pytest.approx(right)
    lunges = [lunge(200, "near", "left"), lunge(100, "near", "left")]
    assert racket_foot(h, lunges) == pytest.approx(tuple(h.hitter.feet_xy[0]))


def test_the_racket_side_is_judged_per_side_of_the_court():
    earlier = [lunge(200, "far", "left"), lunge(150, "far", "left"), lunge(100, "far", "left")]
    near, far = back(300, "near"), back(310, "far")
    assert racket_foot(near, earlier) == pytest.approx(tuple(near.hitter.feet_xy[1]))
    assert racket_foot(far, earlier) == pytest.approx(tuple(far.hitter.feet_xy[0]))


def test_only_the_recent_lunges_count():
    """After an end change the side's new player is judged on their own lunges."""
    recent = [lunge(1000 - 10 * k, "near", "right") for k in range(RECENT_LUNGES)]
    older = [lunge(500 - 10 * k, "near", "left") for k in range(3 * RECENT_LUNGES)]
    h = back(2000, "near")
    assert racket_foot(h, recent + older) == pytest.approx(tuple(h.hitter.feet_xy[1]))
    assert racket_foot(h, older) == pytest.approx(tuple(h.hitter.feet_xy[0]))


def test_lunges_are_looked_for_among_the_recent_hits_only():
    """A session's old lunges neither slow the placing of later shots nor decide them."""
    lunges = [lunge(200, "near", "left"), lunge(100, "near", "left")]  # 1.6 m lead in all
    rallies = [back(10_000 - k, "far") for k in range(RECENT_HITS - len(lunges))]
    h = back(20_000, "near")
    assert racket_foot(h, rallies + lunges) == pytest.approx(tuple(h.hitter.feet_xy[0]))
    rallies.append(back(5_000, "far"))  # one lunge is now too far back: 0.8 m is not enough
    assert racket_foot(h, rallies + lunges) == pytest.approx(tuple(h.hitter.feet_xy[1]))


def test_without_feet_apart_the_point_between_them_stands_in():
    obs = PlayerObservation("near", 30, 1.0, None, np.zeros(2), np.array([3.0, 10.0]))
    assert racket_foot(Hit(30, 1.0, "near", 0.9, None, hitter=obs), []) == (3.0, 10.0)
    assert racket_foot(Hit(30, 1.0, "near", 0.9, None), []) is None


def lunging(player: str, front: float, later_front: float | None) -> Hit:
    """A lunge on the right foot, that foot `front` metres from the net at the hit and
    `later_front` in the next pose (None: no next pose)."""

    def feet(to_net: float) -> tuple[tuple[float, float], tuple[float, float]]:
        sign = 1.0 if player == "near" else -1.0  # metres from the net to court y
        return (3.4, NET_Y + sign * 2.0), (3.0, NET_Y + sign * to_net)

    after = hit(33, player, *feet(later_front)).hitter if later_front is not None else None
    return replace(hit(30, player, *feet(front)), hitter_next=after)


def test_a_lunge_is_placed_where_the_foot_lands_just_after_the_last_pose():
    """The last pose before the hit caught the lunge foot on its way: the next pose shows
    where it landed."""
    assert racket_foot(lunging("near", 1.6, 1.2), []) == pytest.approx((3.0, NET_Y + 1.2))
    # A player already pushing back from the lunge stays where the hit found them.
    assert racket_foot(lunging("near", 1.2, 1.6), []) == pytest.approx((3.0, NET_Y + 1.2))
    assert racket_foot(lunging("near", 1.2, None), []) == pytest.approx((3.0, NET_Y + 1.2))


def test_the_far_players_lunge_is_placed_at_the_last_pose_before_the_hit():
    """Their feet at the net are seen through its mesh: the next pose is not trusted."""
    assert racket_foot(lunging("far", 1.6, 1.2), []) == pytest.approx((3.0, NET_Y - 1.6))


def test_away_from_the_net_the_next_pose_is_not_looked_at():
    h = back(300, "near")
    moved = replace(h, hitter_next=hit(303, "near", (2.5, 9.0), (3.5, 8.0)).hitter)
    assert racket_foot(moved, []) == pytest.approx(tuple(h.hitter.feet_xy[1]))
