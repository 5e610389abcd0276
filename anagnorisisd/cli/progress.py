"""A dependency-free progress bar with rate and ETA, quiet when nobody is watching."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def plural(n: int, word: str, words: str | None = None) -> str:
    """'1 rating', '2 ratings': what the person reads should not say '1 ratings'."""
    return f"{n} {word if n == 1 else words or word + 's'}"


def format_duration(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "--:--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class ProgressBar:
    """Redraws in place on a terminal; elsewhere (logs, CI) prints a line every few seconds."""

    def __init__(self, label: str, unit: str = "files", stream: TextIO | None = None) -> None:
        self.label = label
        self.unit = unit
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.first_done: int | None = None

    def update(self, done: int, total: int, force: bool = False) -> None:
        now = time.monotonic()
        interval = 0.2 if self.tty else 5.0
        if not force and now - self.last_draw < interval:
            return
        self.last_draw = now
        if self.first_done is None:
            self.first_done = done
        elapsed = max(now - self.started, 1e-6)
        rate = (done - self.first_done) / elapsed
        eta = (total - done) / rate if rate > 0 else None
        frac = done / total if total else 1.0
        width = 28
        filled = int(width * min(frac, 1.0))
        bar = "#" * filled + "-" * (width - filled)
        line = (f"{self.label} [{bar}] {done}/{total} {frac:6.1%} "
                f"{rate:7.1f} {self.unit}/s ETA {format_duration(eta)}")
        if self.tty:
            self.stream.write("\r" + line + "\x1b[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self, done: int, total: int) -> None:
        self.update(done, total, force=True)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
