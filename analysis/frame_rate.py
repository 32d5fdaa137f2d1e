"""The fastest input the analysis takes, and the rule that thins faster video to it.

The models learned from video of at most 30 frames a second. Faster video (50 and 60 fps
cameras, a phone's slow motion) is thinned to about that rate before anything looks at it:
between two frames of 119 fps video the shuttle moves a quarter of what it moves at 30 fps,
and the tracker finds far fewer shuttles in such small steps (recall 0.53 at 119 fps, 0.65 at
60 and 0.73 at 30 on the labelled amateur-hall clips). Every skipped frame is also work saved.
"""

from __future__ import annotations

MAX_ANALYSIS_FPS = 30.0
# A frame this much sooner than a whole interval after the last one taken is still taken, so
# that the few milliseconds by which a phone's frame times wander lose no frame of 30 fps
# video. Faster video is thinned to evenly spaced frames: 50 fps to 25, 60 and 120 fps to 30.
SLACK = 0.2


class FrameRateCap:
    """Lets a frame through when it comes at least (1 - SLACK) / `max_fps` seconds after the
    last one let through."""

    def __init__(self, max_fps: float = MAX_ANALYSIS_FPS) -> None:
        if max_fps <= 0:
            raise ValueError(f"the frame rate cap must be positive, got {max_fps}")
        self.min_gap = (1.0 - SLACK) / max_fps
        self._last: float | None = None

    @property
    def last(self) -> float | None:
        """The time of the last frame let through (None before the first)."""
        return self._last

    def admits(self, time: float) -> bool:
        """Whether the frame at `time` (seconds; frames in time order) is let through."""
        if self._last is not None and time - self._last < self.min_gap:
            return False
        self._last = time
        return True
