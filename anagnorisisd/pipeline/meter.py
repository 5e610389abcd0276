"""Events per second over a sliding window: a progress bar's rate and ETA, per stage."""

from __future__ import annotations

import threading
import time
from collections import deque


class RateMeter:
    """Events per second over a sliding window; enough for a progress bar's rate and ETA."""

    def __init__(self, window_s: float = 10.0) -> None:
        self.window_s = window_s
        self.events: deque[tuple[float, int]] = deque()
        self.total = 0
        self._lock = threading.Lock()

    def add(self, n: int) -> None:
        now = time.monotonic()
        with self._lock:
            self.total += n
            self.events.append((now, n))
            while self.events and now - self.events[0][0] > self.window_s:
                self.events.popleft()

    def rate(self) -> float:
        now = time.monotonic()
        with self._lock:
            while self.events and now - self.events[0][0] > self.window_s:
                self.events.popleft()
            if not self.events:
                return 0.0
            span = max(now - self.events[0][0], 1.0)
            return sum(n for _, n in self.events) / span
