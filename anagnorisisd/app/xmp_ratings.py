"""Ratings other photo tools wrote (xmp:Rating, in the file or its sidecar) come in as the
person's own, without ever overwriting one made here; and, when asked, ratings made here
go out to sidecars those tools read.

Lightroom, digiKam, darktable and others keep 0-5 stars, where 0 means "not rated" and -1
means "rejected" (the XMP specification's words). Here a rating goes from 0 to 10, so
stars count double; a 0 stays unrated, and a -1 becomes a reject in the cull view. A
content whose rating history is not empty was rated (or cleared) here, and that decision
stands.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from anagnorisisd.app.review import Reviews
from anagnorisisd.imaging.xmp_sidecar import SidecarError, write_rating
from anagnorisisd.search.catalog import Catalog
from anagnorisisd.store.database import Store, StoreError

log = logging.getLogger(__name__)
XMP_REJECTED = -1


def stars_to_rating(stars: float) -> float | None:
    """1-5 stars as 2-10 here; 0 ("not rated") and anything below as None."""
    return min(10.0, stars * 2) if stars >= 1 else None


def importer(store: Store, catalog: Catalog, reviews: Reviews, metadata_stage: str | None,
             ) -> Callable[[str, bytes, dict[str, Any]], None]:
    """A pipeline result listener that records each new xmp:Rating as a user rating, and an
    XMP reject (-1) as a reject where nothing was decided here."""

    def listen(stage: str, content: bytes, output: dict[str, Any]) -> None:
        stars = output.get("xmp_rating")
        if stage != metadata_stage or stars is None:
            return
        try:
            if float(stars) == XMP_REJECTED:
                reviews.import_decision(content, "reject")
                return
            value = stars_to_rating(float(stars))
            if value is None:
                return
            if store.get_user(content, "rating") is not None or store.rating_history(content):
                return
            with store.write() as w:
                w.set_rating(content, value, time.time())
        except StoreError as exc:  # the file's own XMP is still there for the next pass
            log.warning("could not import an XMP rating: %s", exc)
            return
        catalog.set_rating(content, user=value)

    return listen


class SidecarWriter:
    """Writes a content's rating into the sidecar of every file that holds it.

    A sidecar that cannot be written (a read-only folder, a full disk) never undoes the
    rating, which is already in the store: it is counted and its reason kept for status.
    """

    def __init__(self) -> None:
        self.written = 0
        self.failed = 0
        self.last_error: str | None = None
        self._lock = threading.Lock()

    def write(self, paths: Iterable[str], rating: float | None) -> int:
        """Returns how many sidecars were written."""
        done = 0
        for path in paths:
            try:
                write_rating(path, rating)
            except SidecarError as exc:
                log.warning("could not write an XMP sidecar: %s", exc)
                with self._lock:
                    self.failed += 1
                    self.last_error = str(exc)
                continue
            done += 1
        with self._lock:
            self.written += done
        return done

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"written": self.written, "failed": self.failed,
                    "last_error": self.last_error}
