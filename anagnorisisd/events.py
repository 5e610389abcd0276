"""One small typed event hub: the daemon's parts say what happened; the composition root
(app/library.py) alone decides who hears it.

Publishers know only the hub and the event types below; no module subscribes itself.
Every listener is guarded: one that raises is logged with its name and the event, and
never undoes or misreports what the publisher already did (a committed batch stays
committed and recorded).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)
E = TypeVar("E")


@dataclass(frozen=True)
class ContentChanged:
    """A store commit brought contents to life (a first path) or let them die (the last)."""

    born: list[bytes]
    died: list[bytes]


@dataclass(frozen=True)
class StageResult:
    """A stage's output for a content was committed."""

    stage: str
    content: bytes
    output: dict[str, Any]


@dataclass(frozen=True)
class FilesFinished:
    """Files left the pipeline, committed: (content, failed) each."""

    done: list[tuple[bytes, bool]]


@dataclass(frozen=True)
class ModelReady:
    """The embedding model (re)loaded: a new identity may be in use."""


@dataclass(frozen=True)
class WorkerDistrusted:
    """A remote worker was caught answering wrongly; what it sent since `since` (wall
    time) is to be redone."""

    url: str
    since: float


@dataclass(frozen=True)
class FlagsChanged:
    """The person rated, picked, rejected or labelled a photo, or answered a concept about
    it (or took any of it back), and it is stored: `topics` says which of "rating",
    "decision", "label" and "subjects" (keywords) changed, so that what goes out (XMP
    sidecars) touches those alone."""

    content: bytes
    topics: frozenset[str]


@dataclass(frozen=True)
class FlagsAdopted:
    """Another tool wrote something in a photo's sidecar that is newer than what was decided
    here (features/sidecars): the feature that keeps it takes it in as the person's own,
    and publishes nothing (it came from the sidecar, and must not go back out).
    `changes` holds "rating" (0-10 or None), "decision" or "label"."""

    content: bytes
    changes: dict[str, Any]


class Hub:
    def __init__(self) -> None:
        self._listeners: dict[type, list[tuple[str, Callable[[Any], None]]]] = {}
        self._lock = threading.Lock()

    def subscribe(self, event: type[E], listener: Callable[[E], None], name: str) -> None:
        """`listener` hears every `event` published from now on; `name` is what a failure
        of it is logged under."""
        with self._lock:
            self._listeners.setdefault(event, []).append((name, listener))

    def publish(self, event: object) -> None:
        """Tell every listener of this event's type, in the order they subscribed, each
        guarded: one that raises is logged and the others still hear it."""
        with self._lock:
            listeners = list(self._listeners.get(type(event), ()))
        for name, listener in listeners:
            try:
                listener(event)
            except Exception:
                log.exception("listener %s failed on %s", name, type(event).__name__)
