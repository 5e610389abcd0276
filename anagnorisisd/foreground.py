"""Passes nobody waits for step aside while a person's requests are being worked on.

One process answers the panel and runs the library's passes over every record (the
start's scan, pairing RAWs with their JPEGs, counting, the albums' dating), and they all
share one interpreter lock. The lock has no priorities: with ten threads wanting it each
gets about a tenth, and a page that needs 10 ms of it takes 100 (the soak at 100,000
photos: every request over a second came while the start's passes ran). So the request
threads say when they work (`serving`), and the passes, every thousand records or so,
wait while any does (`step_aside`), for a bounded time: a pass always moves on, a few
times slower under a panel that never rests, at full speed when nobody asks.

No dependencies: every layer's passes may ask, and the HTTP layer tells.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")

LONGEST_WAIT_S = 0.02
"""The most one step aside waits: with a pass's thousand records at 2 to 5 ms of work, it
keeps at least a fifth of its speed however busy the panel is."""
EVERY = 1000
"""Records between two steps aside (aside_every)."""


class Foreground:
    """How many requests are being worked on now, and a wait until none is."""

    def __init__(self) -> None:
        self._busy = 0
        self._quiet = threading.Condition()
        self._local = threading.local()

    def run(self, func: Callable[..., T], *args: object) -> T:
        """Call `func` as a person's request's work: passes step aside until it is done."""
        with self._quiet:
            self._busy += 1
        self._local.serving = True
        try:
            return func(*args)
        finally:
            self._local.serving = False
            with self._quiet:
                self._busy -= 1
                if not self._busy:
                    self._quiet.notify_all()

    @property
    def busy(self) -> int:
        return self._busy

    def serving_here(self) -> bool:
        """Whether this thread is doing a request's work (its helpers, on other threads,
        must not step aside for the very request that waits for them)."""
        return bool(getattr(self._local, "serving", False))

    def step_aside(self, longest: float = LONGEST_WAIT_S) -> None:
        """Wait while requests are being worked on, at most `longest`. A request's own
        work that makes a pass (a status that counts) never waits for itself."""
        if self.serving_here():
            return
        with self._quiet:
            if self._busy:
                self._quiet.wait_for(lambda: not self._busy, longest)


FOREGROUND = Foreground()


def aside_every(items: Iterable[T], every: int = EVERY) -> Iterator[T]:
    """`items`, stepping aside for requests every `every` of them (a pass's loop)."""
    for count, item in enumerate(items, 1):
        yield item
        if count % every == 0:
            FOREGROUND.step_aside()
