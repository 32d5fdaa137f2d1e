"""Finding and following the player of each half of the court, frame by frame.

MediaPipe finds one person per image and misses people who are small in the frame, so each
player is looked for in a crop sized to the height a person would have at that spot of the
court. While a player is followed, one crop around the last hips is enough (one pose call
per frame); a lost player is searched for across a few fixed windows that cover the half.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

import numpy as np

from analysis.blazepose import BlazePoseEstimator
from analysis.camera import camera_projection, project
from analysis.court import COURT_LENGTH, COURT_WIDTH, NET_Y, Court
from analysis.pose import Estimator, Pose

log = logging.getLogger(__name__)

SIDES = ("near", "far")
STATURE_M = 1.75
# Where a player's feet may be: up to 2.5 m behind the back line and 1.2 m outside the side
# lines (line judges and umpires sit further out). Feet off the ground map further from the
# camera than they are: a near player jumping at the net can seem to be over it, a far player
# cannot.
NEAR_NET_MARGIN_M = 1.0
FAR_NET_MARGIN_M = 0.2
BACK_MARGIN_M = 2.5
SIDE_MARGIN_M = 1.2
# Body length (Pose.body_length_px) of a valid pose, as a share of the expected stature in
# pixels: 0.45-0.9 measured on players (median 0.7); outside this range is a wrong person or a
# wrong fit.
MIN_LENGTH_RATIO = 0.35
MAX_LENGTH_RATIO = 1.1
CROP_SCALE = 1.7  # crop side / expected stature: room for raised arms and lunges
MAX_CROP_STEP = 0.12  # most a followed crop moves per frame, as a share of its side
SEARCH_CALLS = 2  # pose calls per frame spent on a lost player
LOST_AFTER_S = 0.5  # after this long unseen, a player is searched for from scratch
LONG_LOST_S = 2.0  # after this long unseen, one search call per frame


@dataclass(frozen=True)
class PlayerObservation:
    """One player seen in one frame."""

    side: str  # "near" | "far"
    frame: int
    time: float
    pose: Pose | None
    foot_px: np.ndarray  # (2,) image pixels, midway between the feet
    court_xy: np.ndarray  # (2,) court metres, midway between the feet
    feet_xy: np.ndarray | None = None  # (2, 2) court metres of the left and the right foot


class PersonScale:
    """Expected image height of a standing person at a court point.

    The court homography is ground-plane only. Assuming square pixels and the principal point
    at the frame centre, it fixes the focal length and the camera pose, and so how a vertical
    segment projects. When that fails (a camera looking straight down at the court), the
    local horizontal scale stands in for the vertical one.
    """

    def __init__(self, court: Court, frame_size: tuple[int, int]) -> None:
        self._court = court
        self._projection = camera_projection(court, frame_size)

    def height_px(self, court_xy: np.ndarray, stature_m: float = STATURE_M) -> float:
        x, y = float(court_xy[0]), float(court_xy[1])
        if self._projection is None:
            return stature_m * self._court.pixels_per_metre((x, y))
        base, top = project(self._projection, np.array([[x, y, 0.0], [x, y, stature_m]]))
        return float(np.linalg.norm(top - base))


class PlayerTracker:
    """Finds and follows the player of one half (near or far) frame by frame.

    Owns one pose estimator for that player (BlazePose in tracking mode unless another is
    given). Not thread-safe.
    """

    def __init__(
        self,
        court: Court,
        side: str,
        frame_size: tuple[int, int],
        *,
        estimator: Estimator | None = None,
        search_calls: int = SEARCH_CALLS,
    ) -> None:
        if side not in SIDES:
            raise ValueError(f"side must be 'near' or 'far', got {side!r}")
        self.court = court
        self.side = side
        self.frame_size = frame_size
        self._scale = PersonScale(court, frame_size)
        self._estimator = estimator if estimator is not None else BlazePoseEstimator()
        self._search_calls = max(1, search_calls)
        self._windows = _search_windows(court, side, self._scale, frame_size)
        self._search_order: list[tuple[int, int, int, int]] = []
        self._next_window = 0
        self._last: PlayerObservation | None = None
        self._last_crop: tuple[int, int, int, int] | None = None
        self._lost_since: float | None = None  # time of the first frame without the player
        self.pose_calls = 0

    def update(self, frame_bgr: np.ndarray, frame: int, time: float) -> PlayerObservation | None:
        """The player in this frame, or None when not found.

        Costs one pose call while the player is followed, at most `search_calls` while the
        player is lost, and one once lost for long (broadcast replays and close-ups).
        """
        if self._lost_since is None:
            self._lost_since = time
        lost_for = time - self._lost_since
        budget = self._search_calls if lost_for <= LONG_LOST_S else 1
        last = self._last
        obs = None
        if last is not None and time - last.time <= LOST_AFTER_S:
            budget -= 1
            obs = self._try(frame_bgr, frame, time, self._follow_crop(last))
        if obs is None and budget > 0:
            obs = self._search(frame_bgr, frame, time, budget)
        if obs is not None:
            self._last = obs
            self._lost_since = None
        return obs

    def close(self) -> None:
        self._estimator.close()

    def plausible_foot(self, court_xy: np.ndarray) -> bool:
        """Whether feet at this court point can belong to this half's player."""
        x, y = float(court_xy[0]), float(court_xy[1])
        if not -SIDE_MARGIN_M <= x <= COURT_WIDTH + SIDE_MARGIN_M:
            return False
        if self.side == "far":
            return -BACK_MARGIN_M <= y <= NET_Y + FAR_NET_MARGIN_M
        return NET_Y - NEAR_NET_MARGIN_M <= y <= COURT_LENGTH + BACK_MARGIN_M

    def _follow_crop(self, last: PlayerObservation) -> tuple[int, int, int, int]:
        # Centred on the last hips, but moved by little from the crop that found them: in
        # tracking mode MediaPipe looks where the person was in the previous image, in crop
        # coordinates, and a crop that jumps (after a search) spoils that frame's landmarks.
        assert last.pose is not None and self._last_crop is not None
        side = CROP_SCALE * self._scale.height_px(last.court_xy)
        x0, y0, x1, y1 = self._last_crop
        previous = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        move = last.pose.hip_center() - previous
        limit = MAX_CROP_STEP * (x1 - x0)
        length = float(np.linalg.norm(move))
        if length > limit:
            move *= limit / length
        return _square(previous + move, side)

    def _search(
        self, frame_bgr: np.ndarray, frame: int, time: float, calls: int
    ) -> PlayerObservation | None:
        # Round-robin over the windows, a few per frame, starting where the player was last
        # seen; a found player restarts the order the next time it is lost.
        if not self._search_order:
            self._search_order = self._windows_by_distance()
        for _ in range(min(calls, len(self._windows))):
            crop = self._search_order[self._next_window % len(self._search_order)]
            self._next_window += 1
            obs = self._try(frame_bgr, frame, time, crop)
            if obs is not None:
                self._search_order = []
                self._next_window = 0
                return obs
        return None

    def _windows_by_distance(self) -> list[tuple[int, int, int, int]]:
        if self._last is None:
            return self._windows
        foot = self._last.foot_px

        def distance(w: tuple[int, int, int, int]) -> float:
            return float(np.hypot((w[0] + w[2]) / 2 - foot[0], (w[1] + w[3]) / 2 - foot[1]))

        return sorted(self._windows, key=distance)

    def _try(
        self, frame_bgr: np.ndarray, frame: int, time: float, crop: tuple[int, int, int, int]
    ) -> PlayerObservation | None:
        self.pose_calls += 1
        pose = self._estimator.estimate(frame_bgr, crop)
        if pose is None:
            return None
        feet_px = pose.feet()
        foot = feet_px.mean(axis=0)
        court_xy = self.court.image_to_court(foot)
        if not self.plausible_foot(court_xy):
            log.debug("%s frame %d: feet at %s are off this half", self.side, frame, court_xy)
            return None
        ratio = pose.body_length_px() / self._scale.height_px(court_xy)
        if not MIN_LENGTH_RATIO <= ratio <= MAX_LENGTH_RATIO:
            log.debug("%s frame %d: pose %.2f of a person's height", self.side, frame, ratio)
            return None
        feet_xy = self.court.image_to_court(feet_px)
        self._last_crop = crop
        return PlayerObservation(self.side, frame, time, pose, foot, court_xy, feet_xy)


@dataclass(frozen=True)
class MovementSample:
    """A player's smoothed court position at one frame."""

    frame: int
    time: float
    court_xy: np.ndarray  # (2,) court metres, smoothed
    speed_mps: float


class MovementTracker:
    """Smooths one player's court positions and adds up the distance covered.

    Frame-rate independent (it works from the observations' times). Single observations
    that would need an impossible speed are dropped as misdetections, unless the next ones
    confirm the new place; missing frames are bridged in a straight line. Pose jitter (about
    0.1 m from frame to frame) is smoothed out, and moves below `step_m` are not counted as
    distance.
    """

    def __init__(
        self,
        *,
        time_constant_s: float = 0.15,
        step_m: float = 0.2,
        max_speed_mps: float = 7.0,
        confirm: int = 3,
        speed_window_s: float = 0.4,
    ) -> None:
        self.time_constant_s = time_constant_s
        self.step_m = step_m
        self.max_speed_mps = max_speed_mps
        self.confirm = confirm
        self.speed_window_s = speed_window_s
        self.distance_m = 0.0
        self.speed_mps = 0.0
        self._positions: list[list[float]] = []
        self._position: np.ndarray | None = None
        self._time = 0.0
        self._anchor = np.zeros(2)
        self._suspects: list[np.ndarray] = []
        self._recent: deque[tuple[float, np.ndarray]] = deque()

    @property
    def positions(self) -> list[list[float]]:
        """[[frame, x_m, y_m], ...]: the smoothed track, centimetre precision."""
        return list(self._positions)

    def update(self, obs: PlayerObservation | None) -> MovementSample | None:
        """Takes one frame's observation (None = player not found); returns the smoothed
        position, or None when there is nothing new to report."""
        if obs is None:
            return None
        point = np.asarray(obs.court_xy, dtype=np.float64)
        if self._position is None:
            return self._accept(obs, point, reseed=True)
        dt = obs.time - self._time
        if dt <= 0:
            return None
        # Pose noise can move a foot point by ~0.5 m from one frame to the next.
        reach = self.max_speed_mps * dt + 0.5
        if np.linalg.norm(point - self._position) <= reach:
            self._suspects.clear()
            alpha = 1.0 - np.exp(-dt / self.time_constant_s)
            return self._accept(obs, self._position + alpha * (point - self._position))
        self._suspects.append(point)
        self._suspects = self._suspects[-self.confirm :]
        recent = np.array(self._suspects)
        if len(recent) < self.confirm or np.ptp(recent, axis=0).max() > 1.0:
            return None
        # Confirmed: the player is really over there (the earlier track was the misdetection,
        # or the player was lost). Start over there without counting the jump.
        self._suspects.clear()
        return self._accept(obs, recent.mean(axis=0), reseed=True)

    def _accept(
        self, obs: PlayerObservation, position: np.ndarray, reseed: bool = False
    ) -> MovementSample:
        self._position = position
        self._time = obs.time
        if reseed:
            self._anchor = position.copy()
            self._recent.clear()
        else:
            step = float(np.linalg.norm(position - self._anchor))
            if step >= self.step_m:
                self.distance_m += step
                self._anchor = position.copy()
        self._recent.append((obs.time, position))
        while len(self._recent) > 2 and obs.time - self._recent[1][0] >= self.speed_window_s:
            self._recent.popleft()
        first_time, first = self._recent[0]
        if obs.time > first_time:
            self.speed_mps = float(np.linalg.norm(position - first) / (obs.time - first_time))
        else:
            self.speed_mps = 0.0
        sample = MovementSample(obs.frame, obs.time, position.copy(), self.speed_mps)
        x, y = (round(float(v), 2) for v in position)
        self._positions.append([obs.frame, x, y])
        return sample


def _square(center: np.ndarray, side: float) -> tuple[int, int, int, int]:
    half = side / 2
    cx, cy = float(center[0]), float(center[1])
    return (round(cx - half), round(cy - half), round(cx + half), round(cy + half))


def _window_for(foot_px: np.ndarray, height_px: float) -> tuple[int, int, int, int]:
    # Centred on where the hips of a person standing there would be.
    return _square(foot_px - [0.0, 0.5 * height_px], CROP_SCALE * height_px)


def _search_windows(
    court: Court, side: str, scale: PersonScale, frame_size: tuple[int, int]
) -> list[tuple[int, int, int, int]]:
    """A few windows that together hold, whole, a person standing anywhere on the half (where
    the frame shows it).

    Ordered from the middle of the half outward: where a lost player most likely is.
    """
    if side == "far":
        ys = np.arange(-1.0, NET_Y + 0.01, 0.5)
    else:
        ys = np.arange(NET_Y, COURT_LENGTH + 1.01, 0.5)
    xs = np.arange(-0.5, COURT_WIDTH + 0.51, 0.5)
    points = np.array([(x, y) for y in ys for x in xs])
    feet = court.court_to_image(points)
    heights = np.array([scale.height_px(p) for p in points])
    windows = [_window_for(f, h) for f, h in zip(feet, heights, strict=True)]
    # Which candidate people each window holds whole (body box inside the window).
    bodies = np.stack(
        [
            feet[:, 0] - 0.35 * heights,
            feet[:, 1] - 1.1 * heights,
            feet[:, 0] + 0.35 * heights,
            feet[:, 1] + 0.05 * heights,
        ],
        axis=1,
    )
    holds = np.array(
        [
            (bodies[:, 0] >= w[0])
            & (bodies[:, 1] >= w[1])
            & (bodies[:, 2] <= w[2])
            & (bodies[:, 3] <= w[3])
            for w in windows
        ]
    )
    chosen: list[int] = []
    width, height = frame_size
    uncovered = (feet[:, 0] >= 0) & (feet[:, 0] < width) & (feet[:, 1] >= 0) & (feet[:, 1] < height)
    while uncovered.any():
        gains = (holds & uncovered).sum(axis=1)
        best = int(np.argmax(gains))
        if gains[best] == 0:
            break
        chosen.append(best)
        uncovered &= ~holds[best]
    middle = np.array([COURT_WIDTH / 2, NET_Y / 2 if side == "far" else NET_Y * 1.5])
    chosen.sort(key=lambda i: float(np.linalg.norm(points[i] - middle)))
    return [windows[i] for i in chosen]
