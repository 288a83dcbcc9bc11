"""A token bucket for the producer's optional rate limit (local clock: it paces, never decides)."""

from __future__ import annotations

import time


class RateLimiter:
    """Allow `rate` messages per second on average, with bursts up to one second's worth."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._updated = time.monotonic()

    def reserve(self, count: int) -> float:
        """Take `count` tokens and return how long to wait before sending them."""
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        self._tokens -= count
        # Negative tokens are a debt: wait until it is paid back.
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate
