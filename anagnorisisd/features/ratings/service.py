"""The person's ratings: stored first, then told to whoever listens (the catalog at once,
the sidecars through the hub's FlagsChanged).

A RAW+JPEG pair is one photo, so a rating of either is a rating of both, in one
transaction; a full store refuses the rating whole and says so (nothing half-saved).
"""

from __future__ import annotations

import time

from anagnorisisd.events import FlagsChanged, Hub
from anagnorisisd.search.catalog import Catalog
from anagnorisisd.store.database import Store
from anagnorisisd.store.writer import Writer


class Ratings:
    def __init__(self, store: Store, catalog: Catalog, hub: Hub) -> None:
        self.store = store
        self.catalog = catalog
        self.hub = hub

    def set(self, content: bytes, value: float | None) -> None:
        """Rate a photo 0-10 (None clears it); raises StoreFull with nothing changed."""
        both = [content, *self.catalog.twins(content)]
        now = time.time()

        def write(w: Writer) -> None:
            for one in both:
                w.set_rating(one, value, now)

        self.store.together.run(write)  # with the other ratings arriving meanwhile
        for one in both:
            self.catalog.set_rating(one, user=value)
        self.hub.publish(FlagsChanged(content, frozenset({"rating"})))

    def adopt(self, content: bytes, value: float | None) -> None:
        """A rating another tool wrote, newer than the one here (FlagsAdopted): kept as the
        person's own, in the history like any other, and not told to the sidecars."""
        with self.store.write() as w:
            w.set_rating(content, value, time.time())
        self.catalog.set_rating(content, user=value)
