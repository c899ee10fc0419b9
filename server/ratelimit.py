"""A token bucket: ``rate`` events a second sustained, ``burst`` at once (signaling flood cap)."""

from __future__ import annotations

import time

__all__ = ["TokenBucket"]


class TokenBucket:
    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._tokens = float(burst)
        self._at = time.monotonic()

    def take(self) -> bool:
        """Spend one token; False when there is none (the caller is over its rate)."""
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
