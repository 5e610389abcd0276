"""Browser renditions of photos, kept on disk under a size cap so a photo viewed twice is
decoded once.

Kept by content and size (``HASH-SIZE.jpg``), like thumbnails: a move or rename finds
the same file. The cache is only a cache: deleting the folder loses nothing. When it
grows past its cap the files least recently served go first.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from pathlib import Path

from anagnorisisd.imaging.rendition import render_jpeg


class PreviewCache:
    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = folder
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._making: dict[str, threading.Lock] = {}
        self._total: int | None = None  # counted on first use, not at start-up

    def path_for(self, content: bytes, size: int) -> Path:
        return self.folder / f"{content.hex()}-{size}.jpg"

    def get(self, content: bytes, size: int, source: str) -> Path:
        """The rendition's file, made from `source` if it is not cached. Two requests for
        the same rendition at once decode it once."""
        target = self.path_for(content, size)
        with self._lock:
            making = self._making.setdefault(target.name, threading.Lock())
        try:
            with making:
                try:
                    os.utime(target)  # served now: the last to be evicted
                except FileNotFoundError:
                    self._store(target, render_jpeg(source, size))
            return target
        finally:  # one lock per rendition being asked for now, never one per rendition ever
            with self._lock:
                self._making.pop(target.name, None)

    def _store(self, target: Path, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".part-", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        with self._lock:
            if self._total is None:
                self._total = self._count()
            else:
                self._total += len(data)
            if self._total > self.max_bytes:
                self._total = self._evict(int(self.max_bytes * 0.8))

    def _files(self) -> list[os.DirEntry[str]]:
        with os.scandir(self.folder) as entries:
            return [e for e in entries if e.name.endswith(".jpg") and e.is_file()]

    def _count(self) -> int:
        return sum(e.stat().st_size for e in self._files())

    def _evict(self, down_to: int) -> int:
        """Remove the least recently served files until the cache holds `down_to` bytes."""
        files = sorted(self._files(), key=lambda e: e.stat().st_mtime)
        total = sum(e.stat().st_size for e in files)
        for entry in files:
            if total <= down_to:
                break
            with contextlib.suppress(OSError):
                size = entry.stat().st_size
                os.unlink(entry.path)
                total -= size
        return total
