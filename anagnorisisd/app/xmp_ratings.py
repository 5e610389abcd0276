"""Ratings, picks, rejects and colour labels other photo tools wrote (in the file or its
XMP sidecar) come in as the person's own, without ever overwriting one made here; and,
when asked ([ratings] write_xmp), what is decided here goes out to sidecars those tools
read (imaging.xmp_sidecar says which properties).

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
from anagnorisisd.imaging.xmp_sidecar import Flags, SidecarError, write_flags
from anagnorisisd.search.catalog import Catalog
from anagnorisisd.store.database import Store, StoreError

log = logging.getLogger(__name__)
XMP_REJECTED = -1


def stars_to_rating(stars: float) -> float | None:
    """1-5 stars as 2-10 here; 0 ("not rated") and anything below as None."""
    return min(10.0, stars * 2) if stars >= 1 else None


def importer(store: Store, catalog: Catalog, reviews: Reviews, metadata_stage: str | None,
             ) -> Callable[[str, bytes, dict[str, Any]], None]:
    """A pipeline result listener that records each new xmp:Rating as a user rating, an
    XMP reject (-1, or digiKam's rejected pick label) as a reject and a pick as a pick
    where nothing was decided here, and a colour label where none was given here."""

    def listen(stage: str, content: bytes, output: dict[str, Any]) -> None:
        if stage != metadata_stage:
            return
        try:
            pick, label = output.get("xmp_pick"), output.get("xmp_label")
            if pick in ("pick", "reject"):
                reviews.import_decision(content, str(pick))
            if isinstance(label, str):
                reviews.import_label(content, label)
        except StoreError as exc:
            log.warning("could not import an XMP pick or label: %s", exc)
        stars = output.get("xmp_rating")
        if stars is None:
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


def flags_of(store: Store, content: bytes,
             subjects: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())) -> Flags:
    """What the person decided about a content (as stored), as sidecars should say it;
    `subjects` are the keywords to hold and to take out (Concepts.sidecar_subjects)."""
    rating = store.get_user(content, "rating")
    review = store.get_user(content, "review") or {}
    return Flags(float(rating["value"]) if rating is not None else None,
                 review.get("decision"), review.get("label"), *subjects)


class SidecarWriter:
    """Writes a content's rating, decision and label into the sidecar of every file that
    holds it.

    A sidecar that cannot be written (a read-only folder, a full disk) never undoes the
    rating, which is already in the store: it is counted and its reason kept for status.
    """

    def __init__(self) -> None:
        self.written = 0
        self.failed = 0
        self.last_error: str | None = None
        self._lock = threading.Lock()

    def write(self, paths: Iterable[str], flags: Flags) -> int:
        """Returns how many sidecars were written."""
        done = 0
        for path in paths:
            try:
                write_flags(path, flags)
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
