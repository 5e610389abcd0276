"""Finding RAW+JPEG pairs and Live Photos again only when what they are made of changed.

A pass reads every file record and, for a photo whose pairing is in doubt, its metadata:
about a second of Python at 100,000 photos, holding the interpreter lock while the panel
waits for it. It was made every ``check_interval_s`` and before every culling grouping,
though between two passes nothing a pair depends on (a file's path and content, a
photo's capture time and Apple identifier, which photos the catalog holds) usually moved.
The store counts the commits that wrote a file record or a stage's result, and the
catalog the changes it heard to which photos exist and to their metadata (both
``reshapes``): with both counts the same as at the last pass, its pairs stand.
"""

from __future__ import annotations

import threading

from anagnorisisd.foreground import aside_every
from anagnorisisd.search.catalog import Catalog
from anagnorisisd.search.pairs import find_pairs
from anagnorisisd.store.database import Store


class PairWatch:
    """The library's pairs, found again when the files or their results changed."""

    def __init__(self, store: Store, catalog: Catalog) -> None:
        self.store = store
        self.catalog = catalog
        self.passes = 0
        """How many passes read the files (tests, and the status of a busy library)."""
        self._seen: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def refresh(self) -> dict[bytes, bytes]:
        """RAW or motion content -> the still's, told to the catalog when found again.
        The stamp is read before the files are, so a commit that lands during a pass
        makes the next call pass again."""
        with self._lock:
            stamp = (self.store.reshapes, self.catalog.reshapes)
            if stamp == self._seen:
                return dict(self.catalog.pairs)
            catalog, meta = self.catalog, self.catalog.metadata_stage
            columns = catalog.columns()  # times by row: not a row object made per file
            pairs = find_pairs(((r.path, r.hash) for r in aside_every(self.store.iter_files())
                                if r.hash is not None and r.hash in columns.position),
                               lambda c: float(columns.taken[columns.position[c]]),
                               lambda c: (self.store.get_result(c, meta) or {}).get(
                                   "content_id") if meta else None)
            catalog.set_pairs(pairs)
            self._seen = stamp
            self.passes += 1
            return pairs
