"""What the daemon knows of one remote worker: whether it is up, trusted and checked, how
busy and fast it is, and what it last did wrong. Changed only under RemoteClip's lock."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Worker:
    url: str
    up: bool | None = None
    refused: str | None = None
    checked: bool = False
    latency_s: float | None = None
    done: int = 0
    bytes_sent: int = 0
    failures: int = 0
    last_error: str | None = None
    retry_at: float = 0.0
    backoff: float = 0.0
    in_flight: int = 0
    since_check: int = 0
    """Items embedded since the last passed probe check; at RECHECK_ITEMS it is checked
    again, so a worker that starts answering with wrong vectors is caught."""
    checked_at: float = 0.0
    checked_wall: float = 0.0
    """Wall-clock time of the last passed check: what it sent before that is trusted."""
    finished: deque[float] = field(default_factory=lambda: deque(maxlen=256))
    odd_streak: int = 0
    """Odd answers in a row from a worker that kept passing its probe (worker_pool)."""
    odd_answers: int = 0

    def usable(self, now: float, limit: int) -> bool:
        return self.retry_at <= now and self.in_flight < limit

    def rate(self, now: float, window: float = 30.0) -> float:
        recent = [t for t in self.finished if now - t <= window]
        if len(recent) < 2:
            return 0.0
        return len(recent) / max(now - recent[0], 1e-3)

    def as_dict(self, now: float) -> dict[str, Any]:
        state = ("refused" if self.refused and self.retry_at > now
                 else "unknown" if self.up is None
                 else "up" if self.up and self.retry_at <= now else "down")
        return {"url": self.url, "state": state, "up": state == "up",
                "latency_ms": round(self.latency_s * 1000, 1) if self.latency_s else None,
                "images_per_s": round(self.rate(now), 2), "done": self.done,
                "bytes_per_image": round(self.bytes_sent / self.done) if self.done else None,
                "failures": self.failures, "odd_answers": self.odd_answers,
                "last_error": self.last_error,
                "refused": self.refused, "checked": self.checked, "in_flight": self.in_flight,
                "retry_in_s": round(max(0.0, self.retry_at - now), 1)
                if state in ("down", "refused") else None}
