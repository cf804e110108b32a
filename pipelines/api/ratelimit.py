"""Calls per client address within a sliding time window (PxWebApi's maxCallsPerTimeWindow/timeWindow)."""

from __future__ import annotations

import math
import time
from collections import defaultdict, deque
from threading import Lock


class RateLimit:
    def __init__(self, calls: int, window: float) -> None:
        self.calls, self.window = calls, window
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._lock = Lock()

    def wait(self, client: str) -> int:
        """0 if the call may go ahead (and counts it), else the whole seconds until it may."""
        now = time.monotonic()
        with self._lock:
            seen = self._seen[client]
            while seen and now - seen[0] >= self.window:
                seen.popleft()
            if len(seen) >= self.calls:
                return max(1, math.ceil(self.window - (now - seen[0])))
            seen.append(now)
            return 0
