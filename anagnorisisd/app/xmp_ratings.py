"""Ratings other photo tools wrote (xmp:Rating, in the file or its sidecar) come in as the
person's own, without ever overwriting one made here.

Lightroom, digiKam, darktable and others keep 0-5 stars, with -1 for a reject; here a
rating goes from 0 to 10, so stars count double and a reject is 0. A content whose rating
history is not empty was rated (or cleared) here, and that decision stands.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from anagnorisisd.search.catalog import Catalog
from anagnorisisd.store.database import Store, StoreError

log = logging.getLogger(__name__)


def stars_to_rating(stars: float) -> float:
    return min(10.0, max(0.0, stars * 2))


def importer(store: Store, catalog: Catalog, metadata_stage: str | None,
             ) -> Callable[[str, bytes, dict[str, Any]], None]:
    """A pipeline result listener that records each new xmp:Rating as a user rating."""

    def listen(stage: str, content: bytes, output: dict[str, Any]) -> None:
        stars = output.get("xmp_rating")
        if stage != metadata_stage or stars is None:
            return
        if store.get_user(content, "rating") is not None or store.rating_history(content):
            return
        value = stars_to_rating(float(stars))
        try:
            with store.write() as w:
                w.set_rating(content, value, time.time())
        except StoreError as exc:  # the file's own XMP is still there for the next pass
            log.warning("could not import an XMP rating: %s", exc)
            return
        catalog.set_rating(content, user=value)

    return listen
