"""The foot a shot is played from: the hitter's racket-side foot.

Players lunge onto the racket-side foot at the net, on the forehand and the backhand alike:
at a hit in the front court the foot nearer the net is the racket foot. That foot lands about
when the shuttle is struck, so the last pose before the hit may still show it in the air on
its way: of that pose and the next one (a tenth of a second or so later), the foot reaching
nearer the net marks the near player's lunge. Not the far player's: from behind the near
court, their feet at the net are seen through its mesh, and the nearer-reaching of two such
poses is more often a misplaced foot than a landed one. Further back the
feet say little, and the player's racket side is judged from their recent lunges; a player
counts as right-handed until their lunges show otherwise. It is judged per side of the
court, from that side's hits only: players change ends between games.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import islice

import numpy as np

from analysis.court import NET_Y
from analysis.hits import Hit

FRONT_COURT_M = 3.5  # feet this close to the net on average at a hit: a lunge
RECENT_LUNGES = 8  # a side's latest lunges judge its player's racket side
# ... looked for among the latest hits only, so that placing a shot costs the same late in a
# long session as early in it, even for a player who never lunges (about 15 rallies).
RECENT_HITS = 200
# Over the recent lunges, the left foot led by this many metres in all: a left-hander.
LEFT_HANDED_LEAD_M = 1.0
LEFT, RIGHT = 0, 1  # rows of PlayerObservation.feet_xy


def racket_foot(hit: Hit, earlier: Iterable[Hit]) -> tuple[float, float] | None:
    """Court metres of the hitter's racket-side foot at `hit` (the point between the feet
    when they are not known apart; None without the hitter). `earlier`: hits before it,
    latest first."""
    obs = hit.hitter
    if obs is None:
        return None
    if obs.feet_xy is None:
        return float(obs.court_xy[0]), float(obs.court_xy[1])
    if lunge_lead(obs.feet_xy) is not None:
        poses = [obs.feet_xy]
        after = hit.hitter_next
        if hit.player == "near" and after is not None and after.feet_xy is not None:
            poses.append(after.feet_xy)
        x, y = min((_front_foot(feet) for feet in poses), key=lambda xy: abs(xy[1] - NET_Y))
        return float(x), float(y)
    foot = LEFT if left_handed(hit.player, earlier) else RIGHT
    return float(obs.feet_xy[foot, 0]), float(obs.feet_xy[foot, 1])


def _front_foot(feet_xy: np.ndarray) -> np.ndarray:
    """The foot nearer the net (the right one when level)."""
    to_net = np.abs(feet_xy[:, 1] - NET_Y)
    return feet_xy[RIGHT if to_net[LEFT] >= to_net[RIGHT] else LEFT]


def lunge_lead(feet_xy: np.ndarray) -> float | None:
    """Metres by which the right foot is nearer the net than the left one, at a hit in the
    front court; None further back."""
    to_net = np.abs(feet_xy[:, 1] - NET_Y)
    if to_net.mean() >= FRONT_COURT_M:
        return None
    return float(to_net[LEFT] - to_net[RIGHT])


def left_handed(player: str, earlier: Iterable[Hit]) -> bool:
    """Whether the left foot led `player`'s recent lunges, by LEFT_HANDED_LEAD_M in all
    (`earlier`: hits latest first, of which the RECENT_HITS latest are looked at)."""
    total, lunges = 0.0, 0
    for hit in islice(earlier, RECENT_HITS):
        if lunges == RECENT_LUNGES:
            break
        obs = hit.hitter
        if hit.player != player or obs is None or obs.feet_xy is None:
            continue
        lead = lunge_lead(obs.feet_xy)
        if lead is not None:
            total += lead
            lunges += 1
    return total <= -LEFT_HANDED_LEAD_M
