"""The limits every decode is held to, in pixels: the size a header may declare, and the
share of a process-wide budget a decode waits for (decoding.py says why)."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ImageTooLarge(ValueError):
    """An image whose header promises more pixels than the limit allows."""


class DecodeBudget:
    """A counting semaphore measured in pixels.

    A request larger than the whole budget waits until it can have all of it,
    so it still runs, alone. Waiters are served as room appears; small decodes
    may overtake a large one, which only ever waits for decodes already running.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.in_use = 0
        self.peak = 0
        self.decodes = 0
        """Images decoded so far: what tells one decode per photo from two."""
        self._cond = threading.Condition()

    @contextmanager
    def hold(self, pixels: int) -> Iterator[None]:
        amount = max(1, min(int(pixels), self.capacity))
        with self._cond:
            self._cond.wait_for(lambda: self.in_use + amount <= self.capacity)
            self.in_use += amount
            self.peak = max(self.peak, self.in_use)
            self.decodes += 1
        try:
            yield
        finally:
            with self._cond:
                self.in_use -= amount
                self._cond.notify_all()


class Limits:
    """The process-wide limits; the daemon sets them from ``[limits]`` at start-up."""

    max_pixels: int = 120_000_000
    max_file_bytes: int = 2048 << 20
    budget: DecodeBudget = DecodeBudget(128_000_000)


def check_size(width: int, height: int) -> None:
    if width * height > Limits.max_pixels:
        raise ImageTooLarge(
            f"{width}x{height} pixels ({width * height / 1e6:.0f} MP), above the "
            f"{Limits.max_pixels / 1e6:.0f} MP limit ([limits] max_pixels)")


def draft_box(width: int, height: int, target: int | None, longest: int | None
              ) -> tuple[int, int] | None:
    """The smallest size, in the image's own shape, whose sides are at least `target` and
    whose longest side is at least `longest`: what a reduced-size decode may shrink to."""
    if not width or not height or (not target and not longest):
        return None
    scale = max((target or 0) / min(width, height), (longest or 0) / max(width, height))
    if scale >= 1:
        return None
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))
