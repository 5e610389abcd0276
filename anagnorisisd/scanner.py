"""The reconciling scan: compare the disk with the store by stat alone.

The watcher is fast but forgetful (nothing is watched while the daemon is
down, and the kernel drops events when its queue overflows), so a scan at
start-up and on a schedule makes the store agree with the disk again. It only
reads directory entries and stats; unchanged files cost a dict lookup.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from anagnorisisd.store import Store

WRITE_CHUNK = 2000


def normalise_root(path: str) -> str:
    """Absolute, normalised, no trailing separator: the one spelling used as a key prefix."""
    return os.path.normpath(os.path.abspath(os.path.expanduser(path)))


def normalise_extensions(extensions: Iterable[str]) -> frozenset[str]:
    return frozenset(e.lower() if e.startswith(".") else "." + e.lower() for e in extensions)


def is_wanted(name: str, extensions: frozenset[str]) -> bool:
    if name.startswith("."):
        return False
    return os.path.splitext(name)[1].lower() in extensions


def walk_files(root: str, extensions: frozenset[str]) -> Iterator[os.DirEntry[str]]:
    """Every wanted regular file under root; hidden entries and symlinked dirs are skipped."""
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            if not entry.name.startswith("."):
                                stack.append(entry.path)
                        elif entry.is_file() and is_wanted(entry.name, extensions):
                            yield entry
                    except OSError:
                        continue
        except OSError:
            continue


def under(path: str, root: str) -> bool:
    return path.startswith(root + os.sep)


@dataclass
class ScanReport:
    seen: int = 0
    queued: int = 0
    removed: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.seen / self.seconds if self.seconds else 0.0


def scan(
    store: Store,
    roots: Iterable[str],
    extensions: Iterable[str],
    on_progress: Callable[[int], None] | None = None,
    library_roots: Iterable[str] | None = None,
) -> ScanReport:
    """Queue new and changed files under `roots`, and forget vanished ones.

    Records outside every one of `library_roots` (default: `roots`) are
    forgotten too. Missing roots are left alone, since a root that is not there
    is more likely an unmounted disk than a deleted library.
    """
    started = time.monotonic()
    report = ScanReport()
    exts = normalise_extensions(extensions)
    walk_roots = [normalise_root(r) for r in roots]
    all_roots = [normalise_root(r) for r in (library_roots or walk_roots)] + walk_roots
    present = [r for r in walk_roots if os.path.isdir(r)]
    known = store.stat_index()
    seen: set[str] = set()
    changed: list[tuple[str, int, int]] = []

    def flush() -> None:
        with store.write() as w:
            for path, size, mtime_ns in changed:
                report.queued += w.seen(path, size, mtime_ns)
        changed.clear()

    for root in present:
        for entry in walk_files(root, exts):
            try:
                st = entry.stat()
            except OSError:
                continue
            path = entry.path
            seen.add(path)
            report.seen += 1
            if known.get(path) != (st.st_size, st.st_mtime_ns):
                changed.append((path, st.st_size, st.st_mtime_ns))
                if len(changed) >= WRITE_CHUNK:
                    flush()
            if on_progress is not None and report.seen % 1000 == 0:
                on_progress(report.seen)
    if changed:
        flush()

    def forgettable(path: str) -> bool:
        if path in seen:
            return False
        if any(under(path, r) for r in present):
            return True
        return not any(under(path, r) for r in all_roots)  # outside the library now

    gone = [p for p in known if forgettable(p)]
    for start in range(0, len(gone), WRITE_CHUNK):
        with store.write() as w:
            for path in gone[start : start + WRITE_CHUNK]:
                report.removed += w.remove(path)
    report.seconds = time.monotonic() - started
    return report
