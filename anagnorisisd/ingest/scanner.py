"""The reconciling scan: compare the disk with the store by stat alone.

The watcher is fast but forgetful (nothing is watched while the daemon is
down, and the kernel drops events when its queue overflows), so a scan at
start-up and on a schedule makes the store agree with the disk again. It only
reads directory entries and stats; unchanged files cost a dict lookup.

Entries that are not indexed for a reason the person may want to know (a FIFO
named like an image, a symlink out of the library, a folder that cannot be
read) are recorded as skipped, with the reason, and listed in /api/failures.
The rules are in ``safe_io``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from anagnorisisd.foreground import aside_every
from anagnorisisd.ingest.safe_io import Verdict, judge, real_roots
from anagnorisisd.ingest.sidecars import SUFFIX as SIDECAR_SUFFIX
from anagnorisisd.ingest.sidecars import fingerprint_of, sidecar_names
from anagnorisisd.store.database import Store

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


def walk(root: str, extensions: frozenset[str], library_real_roots: list[str]
         ) -> Iterator[Verdict]:
    """A verdict for every wanted entry under root, and for every folder that could not be
    read or was not followed. Hidden entries are passed over without a word.

    One pass over each folder's listing: it gathers the folder's XMP sidecars with the
    photos, and the photos are given their sidecars' fingerprint once the folder is read
    (a sidecar may be listed after its photo)."""
    stack = [root]
    while stack:
        directory = stack.pop()
        photos: list[Verdict] = []
        sidecars: dict[str, tuple[int, int]] = {}
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    verdict = look_at(entry, extensions, library_real_roots, stack, sidecars)
                    if verdict is None:
                        continue
                    if verdict.ok:
                        photos.append(verdict)
                    else:
                        yield verdict
        except OSError as exc:
            yield Verdict(directory, skip=f"cannot list this folder: {exc.strerror or exc}")
            continue
        for photo in photos:
            photo.sidecar = fingerprint_of(sidecar_names(photo.path), sidecars) if sidecars else ()
            yield photo


def look_at(entry: os.DirEntry[str], extensions: frozenset[str], library_real_roots: list[str],
            folders: list[str], sidecars: dict[str, tuple[int, int]]) -> Verdict | None:
    """One listing entry: a folder goes on `folders`, a sidecar's stat into `sidecars`; a
    wanted file (or a symlink to a folder) gets its verdict."""
    name = entry.name
    if name.startswith("."):
        return None
    try:
        if entry.is_dir(follow_symlinks=False):
            folders.append(entry.path)
            return None
        suffix = os.path.splitext(name)[1].lower()
        if suffix == SIDECAR_SUFFIX:
            if entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False)
                sidecars[entry.path] = (st.st_size, st.st_mtime_ns)
            return None
        wanted = suffix in extensions
        if not wanted and not entry.is_symlink():
            return None
    except OSError:
        return None
    verdict = judge(entry.path, library_real_roots, entry)
    if verdict is None or wanted or (verdict.skip and "to a folder" in verdict.skip):
        return verdict
    return None


def walk_files(root: str, extensions: frozenset[str],
               library_roots: Iterable[str] | None = None) -> Iterator[Verdict]:
    """The files under root that can be indexed (verdicts without a skip)."""
    reals = real_roots(library_roots or [root])
    return (v for v in walk(root, extensions, reals) if v.ok)


def under(path: str, root: str) -> bool:
    return path.startswith(root + os.sep)


@dataclass
class ScanReport:
    seen: int = 0
    queued: int = 0
    removed: int = 0
    skipped: int = 0
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
    reals = real_roots(all_roots)
    known = store.stat_index()
    seen: set[str] = set()
    changed: list[Verdict] = []
    skipped: list[Verdict] = []

    def flush() -> None:
        with store.write() as w:
            for v in changed:
                report.queued += w.seen(v.path, v.size, v.mtime_ns, v.sidecar)
        changed.clear()

    with store.write() as w:  # this scan's skip notes replace the last ones under its roots
        for root in present:
            w.forget_skipped_under(root)

    for root in present:
        for verdict in aside_every(walk(root, exts, reals)):  # requests first: foreground.py
            if verdict.skip is not None:
                skipped.append(verdict)
                continue
            path = verdict.path
            seen.add(path)
            report.seen += 1
            if known.get(path) != (verdict.size, verdict.mtime_ns, verdict.sidecar):
                changed.append(verdict)
                if len(changed) >= WRITE_CHUNK:
                    flush()
            if on_progress is not None and report.seen % 1000 == 0:
                on_progress(report.seen)
    if changed:
        flush()
    with store.write() as w:
        for verdict in skipped:
            assert verdict.skip is not None
            w.skip(verdict.path, verdict.skip)
    report.skipped = len(skipped)

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
