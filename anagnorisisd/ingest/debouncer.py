"""Debouncing the library's file events: every event becomes "look at this path again
once it has been quiet for a moment". Looking means one stat: gone means forget it, a stat
that still moves means it is being written (look again later), a stable stat is recorded
and queues the file if it changed. Moves are applied at once, because a move is the one
event that carries information a later stat cannot recover: that the content at the new
path is the content we already know.

Kept apart from the watcher (ingest.watcher, which reads watchdog's events) so that a
library opened for one query never imports watchdog.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from anagnorisisd.ingest.safe_io import judge, real_roots
from anagnorisisd.ingest.scanner import is_wanted, normalise_extensions, walk_files
from anagnorisisd.ingest.sidecars import fingerprint, photos_of
from anagnorisisd.store.database import Store, StoreFull

log = logging.getLogger(__name__)


@dataclass
class PendingCheck:
    due: float
    last_stat: tuple[int, int] | None = None


class Debouncer:
    """Coalesces events per path and applies them to the store from one thread."""

    def __init__(
        self, store: Store, extensions: Iterable[str], quiet_s: float, settle_s: float,
        on_change: Callable[[], None], roots: Callable[[], list[str]] | None = None,
    ) -> None:
        self.store = store
        self.roots = roots or (lambda: [])
        self.extensions = normalise_extensions(extensions)
        self.quiet_s = quiet_s
        self.settle_s = settle_s
        self.on_change = on_change
        self._pending: dict[str, PendingCheck] = {}
        self._moves: list[tuple[str, str | None, bool]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="debouncer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def wanted(self, path: str) -> bool:
        return is_wanted(os.path.basename(path), self.extensions)

    def check_later(self, path: str) -> None:
        if not self.wanted(path):
            return
        with self._lock:
            entry = self._pending.get(path)
            due = time.monotonic() + self.quiet_s
            if entry is None:
                self._pending[path] = PendingCheck(due)
            else:
                entry.due = due

    def sidecar_changed(self, sidecar: str) -> None:
        """Another tool wrote, renamed or removed an XMP sidecar: look again at the photos it
        belongs to (their stat is unchanged, their sidecars' fingerprint is not)."""
        base = sidecar[: -len(".xmp")]
        named = [r.path for r in self.store.iter_files(base + ".")]
        for photo in photos_of(sidecar, named):
            self.check_later(photo)

    def check_tree_later(self, directory: str) -> None:
        for verdict in walk_files(directory, self.extensions, self.roots() or [directory]):
            self.check_later(verdict.path)

    def moved(self, src: str, dst: str | None, is_directory: bool) -> None:
        """Apply a move at once (dst None: a directory deleted as a whole)."""
        with self._lock:
            self._moves.append((src, dst, is_directory))
            self._pending.pop(src, None)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self._apply_moves()
                self._apply_due_checks()
            except StoreFull as exc:
                log.warning("watcher paused: %s", exc)
                self._stop.wait(5.0)
            except Exception:
                log.exception("watcher could not apply changes; the next scan will catch up")
                self._stop.wait(1.0)

    def _apply_moves(self) -> None:
        with self._lock:
            moves, self._moves = self._moves, []
        if not moves:
            return
        follow_up: list[str] = []
        with self.store.write() as w:
            for src, dst, is_directory in moves:
                if dst is None:
                    w.remove_tree(src + os.sep)
                elif is_directory:
                    w.move_tree(src + os.sep, dst + os.sep)
                elif self.wanted(dst):
                    if not w.move(src, dst):
                        follow_up.append(dst)  # unknown source: treat as a new file
                else:
                    w.remove(src)
        for path in follow_up:
            self.check_later(path)
        self.on_change()

    def _apply_due_checks(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [(p, c) for p, c in self._pending.items() if c.due <= now]
            armed = {p: c.due for p, c in due}
        if not due:
            return
        observations: list[tuple[str, tuple[int, int] | str | None]] = []
        reals = real_roots(self.roots())
        for path, check in due:
            verdict = judge(path, reals)
            if verdict is not None and verdict.skip is not None:
                observations.append((path, verdict.skip))
                continue
            stat = (verdict.size, verdict.mtime_ns) if verdict is not None else None
            if stat is not None and stat != check.last_stat:
                # Still changing (or first look): record the stat, look again once settled.
                with self._lock:
                    current = self._pending.get(path)
                    if current is check:
                        check.last_stat = stat
                        check.due = now + self.settle_s
                continue
            observations.append((path, stat))
        if not observations:
            return
        sidecars = {path: fingerprint(path) for path, seen in observations
                    if isinstance(seen, tuple)}
        with self.store.write() as w:
            for path, seen in observations:
                if seen is None:
                    w.remove(path)
                    w.unskip(path)
                elif isinstance(seen, str):
                    w.skip(path, seen)
                else:
                    w.seen(path, *seen, sidecars[path])
        with self._lock:
            for path, _ in observations:
                # An event since this look (a sidecar removed while its photo was being
                # looked at) re-armed the check: it stays, to look again.
                entry = self._pending.get(path)
                if entry is not None and entry.due == armed.get(path, entry.due):
                    self._pending.pop(path, None)
        self.on_change()

    def idle(self) -> bool:
        with self._lock:
            return not self._pending and not self._moves
