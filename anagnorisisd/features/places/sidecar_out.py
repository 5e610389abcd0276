"""Filled positions out to the photos' XMP sidecars (with `[ratings] write_xmp`), as
exif:GPSLatitude/GPSLongitude, where digiKam, Lightroom and exiftool read them; on a
thread of its own, since a track can place a hundred thousand photos at once. Each write
changes those properties alone and keeps everything else the sidecar says."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from anagnorisisd.imaging.xmp_position import position_properties
from anagnorisisd.imaging.xmp_sidecar import SidecarError, write_properties

log = logging.getLogger(__name__)


class PositionWriter:
    def __init__(self, files_of: Callable[[bytes], list[str]]) -> None:
        self.files_of = files_of
        self.pending: dict[bytes, tuple[float, float]] = {}
        """Content -> the position to write: the latest wins, so the backlog is bounded by
        the library, never by how often positions change."""
        self.written = self.failed = 0
        self.last_error: str | None = None
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="places-xmp", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def put(self, positions: dict[bytes, tuple[float, float]]) -> None:
        with self._wake:
            self.pending.update(positions)
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self.pending and not self._stopping:
                    self._wake.wait()
                if self._stopping:
                    return
                content, (lat, lon) = self.pending.popitem()
            for path in self.files_of(content):
                try:
                    write_properties(path, position_properties(lat, lon))
                    self.written += 1
                except (SidecarError, OSError) as exc:
                    self.failed += 1
                    self.last_error = str(exc)
                    log.warning("position not written to %s's sidecar: %s", path, exc)

    def status(self) -> dict[str, object]:
        return {"written": self.written, "failed": self.failed, "waiting": len(self.pending),
                "last_error": self.last_error}
