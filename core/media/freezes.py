"""Video freezes as webrtc-stats counts them (``freezeCount``, ``totalFreezesDuration``).

A freeze is an inter-frame delay longer than ``max(3 × average, average + 150 ms)``, the
average taken over the frames before it (here the last 30 delays, and only once a few are
known, so the first frames after a start are never counted).
"""

from __future__ import annotations

import collections

__all__ = ["FreezeCounter"]

_MIN_HISTORY = 5


class FreezeCounter:
    def __init__(self, history: int = 30) -> None:
        self._delays: collections.deque[float] = collections.deque(maxlen=history)
        self._last: float | None = None
        self.count = 0
        self.total_duration = 0.0  # seconds

    def frame(self, now: float) -> None:
        """A frame was rendered (delivered) at ``now`` (seconds, monotonic)."""
        if self._last is not None:
            delay = now - self._last
            if len(self._delays) >= _MIN_HISTORY:
                average = sum(self._delays) / len(self._delays)
                if delay > max(3.0 * average, average + 0.150):
                    self.count += 1
                    self.total_duration += delay
            self._delays.append(delay)
        self._last = now
