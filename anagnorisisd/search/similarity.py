"""The library in similarity order, without a request waiting for it to be worked out.

The order chains every photo to its nearest unvisited neighbour (VectorIndex.
similarity_order): at 100,000 photos 9 to 16 s of Annoy's neighbour lists, once per index
generation. Asked on a request's thread, the first page in that order waited all that
while. Past `inline` photos it is worked out on a thread of its own: until it is ready the
page comes newest first and says so, and the next page asked after gets the order.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from anagnorisisd.search.catalog_rows import Columns
    from anagnorisisd.search.index import VectorIndex

INLINE = 20_000
"""Photos up to which the order is worked out for the request that asks (well under a
second)."""


class SimilarityOrder:
    def __init__(self, index: VectorIndex, inline: int = INLINE) -> None:
        self.index = index
        self.inline = inline
        self._lock = threading.Lock()
        self._working: threading.Thread | None = None

    def count(self) -> int:
        """Photos with a vector: the indexed and the fresh ones."""
        current = self.index.current
        return (current.size if current is not None else 0) + len(self.index.fresh)

    def ready(self) -> bool:
        """Whether the order can be given now; if not, it is being worked out (started here
        when nobody is working on it)."""
        if self.index.similarity_ready() or self.count() <= self.inline:
            return True
        with self._lock:
            if self._working is None or not self._working.is_alive():
                self._working = threading.Thread(target=self.index.similarity_order,
                                                 name="similarity-order", daemon=True)
                self._working.start()
        return False

    def positions(self, columns: Columns, idx: NDArray[np.intp], descending: bool
                  ) -> NDArray[np.intp]:
        """`idx` (rows of `columns`) in similarity order; rows with no vector yet last."""
        wanted = set(idx.tolist())
        position = columns.position
        ordered = [position[c] for c in self.index.similarity_order()
                   if c in position and position[c] in wanted]
        seen = set(ordered)
        ordered += [i for i in idx.tolist() if i not in seen]  # not embedded yet: at the end
        out = np.asarray(ordered, dtype=np.intp)
        return out if descending else out[::-1]
