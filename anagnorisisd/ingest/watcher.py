"""Live file watching: watchdog's events, routed to the debouncer (ingest.debouncer), which
turns them into store updates once each path has been quiet for a moment.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
    FileSystemMovedEvent,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from anagnorisisd.ingest.debouncer import Debouncer
from anagnorisisd.ingest.scanner import normalise_root
from anagnorisisd.ingest.sidecars import is_sidecar

log = logging.getLogger(__name__)


class EventRouter(FileSystemEventHandler):
    """Translates watchdog's event types into Debouncer calls."""

    def __init__(self, debouncer: Debouncer) -> None:
        self.debouncer = debouncer

    def on_any_event(self, event: FileSystemEvent) -> None:
        src = os.fsdecode(event.src_path)
        if not event.is_directory:  # a sidecar written (often renamed into place), or gone
            for path in (src, os.fsdecode(getattr(event, "dest_path", "") or "")):
                if path and is_sidecar(path) and event.event_type != "opened":
                    self.debouncer.sidecar_changed(path)
        if isinstance(event, FileSystemMovedEvent):
            self.debouncer.moved(src, os.fsdecode(event.dest_path), event.is_directory)
            if isinstance(event, DirMovedEvent):
                return
        elif isinstance(event, DirDeletedEvent):
            self.debouncer.moved(src, None, True)
        elif isinstance(event, DirCreatedEvent):
            # A directory moved in from outside arrives as one event with no children's.
            self.debouncer.check_tree_later(src)
        elif not event.is_directory and event.event_type in (
            "created", "modified", "deleted", "closed"
        ):
            self.debouncer.check_later(src)


class LibraryWatcher:
    """Owns the observer and the set of roots; roots can be re-targeted live."""

    def __init__(self, debouncer: Debouncer) -> None:
        self.debouncer = debouncer
        self.roots: list[str] = []
        self.watched: list[str] = []
        # (st_dev, st_ino) of each watched root: inotify follows the folder it was given,
        # so a root deleted and restored (a new folder at the old path) goes unwatched
        # unless someone notices the identity changed.
        self._identity: dict[str, tuple[int, int]] = {}
        self._observer: BaseObserver | None = None
        self._lock = threading.Lock()

    def set_roots(self, roots: Iterable[str]) -> list[str]:
        """Watch the roots that exist now; return those that became watched."""
        with self._lock:
            self.roots = [normalise_root(r) for r in roots]
            self._stop_observer()
            return self._start_observer()

    def refresh(self) -> list[str]:
        """Re-watch when a root appeared, went, or was replaced; return the roots that are
        newly there (appeared or replaced), which want a scan."""
        with self._lock:
            now = {r: ident for r in self.roots if (ident := _identity(r)) is not None}
            if now == self._identity:
                return []
            fresh = [r for r, ident in now.items() if self._identity.get(r) != ident]
            self._stop_observer()
            self._start_observer()
            return fresh


    def missing(self) -> list[str]:
        return [r for r in self.roots if not os.path.isdir(r)]

    def _start_observer(self) -> list[str]:
        identities = {r: ident for r in self.roots if (ident := _identity(r)) is not None}
        present = list(identities)
        self._identity = identities
        if not present:
            self.watched = []
            return []
        observer = Observer()
        router = EventRouter(self.debouncer)
        for root in present:
            observer.schedule(router, root, recursive=True)
        observer.daemon = True
        observer.start()
        self._observer = observer
        self.watched = present
        return present

    def _stop_observer(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5)
            self._observer = None
        self.watched = []

    def stop(self) -> None:
        with self._lock:
            self._stop_observer()


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if os.path.isdir(path) else None
