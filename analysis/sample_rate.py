"""How often samples arrive, judged as they come from the latest intervals between them: a
stream's rate changes (a phone's preset, frames dropped while the analysis is busy)."""

from __future__ import annotations

import statistics
from collections import deque


class RecentInterval:
    """The median of the latest `size` intervals between the times fed, in seconds."""

    def __init__(self, size: int) -> None:
        self._intervals: deque[float] = deque(maxlen=size)
        self._last: float | None = None

    def add(self, time: float) -> None:
        """Feeds the next time; one earlier than the last starts afresh from it."""
        if self._last is not None and time >= self._last:
            self._intervals.append(time - self._last)
        self._last = time

    @property
    def median(self) -> float | None:
        """None before the second time."""
        return statistics.median(self._intervals) if self._intervals else None
