"""The vectors embedded since the index was built, as one matrix for their exact search.

A first start at 100,000 photos with no saved index adds 100,000 fresh vectors one by one
while searches run; stacking every fresh vector again at the first search after each
arrival took 6% of the daemon's interpreter time under the soak's load. So the matrix
grows in place: a new item is one row written past the end of a buffer that doubles when
full. A matrix handed out is never written again (rows past its end are, and a doubled
buffer is a new one), so a search holding it needs no lock; an item changed or removed
makes the next read stack the rows afresh.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FIRST_ROWS = 256


class FreshRows:
    """The fresh items' matrix, kept beside their dict; its owner's lock guards every call."""

    def __init__(self) -> None:
        self._keys: list[bytes] = []
        self._rows: NDArray[np.float32] | None = None

    def forget(self) -> None:
        """An item changed or went: the next read stacks the rows again."""
        self._rows = None
        self._keys = []

    def append(self, content: bytes, vector: NDArray[np.float32]) -> None:
        """A new item: one row written, where a matrix is already made and of its width."""
        rows = self._rows
        if rows is None:
            return  # stacked at the next read, this one with the rest
        if vector.shape != rows.shape[1:]:
            self.forget()
            return
        count = len(self._keys)
        if count == len(rows):
            grown = np.empty((max(2 * count, FIRST_ROWS), rows.shape[1]), dtype=np.float32)
            grown[:count] = rows[:count]
            self._rows = rows = grown
        rows[count] = vector
        self._keys.append(content)

    def matrix(self, fresh: dict[bytes, NDArray[np.float32]]
               ) -> tuple[list[bytes], NDArray[np.float32]]:
        """The keys and their rows, in the same order; `fresh` is read when nothing is made."""
        if self._rows is None:
            if not fresh:
                return [], np.zeros((0, 1), np.float32)
            self._keys = list(fresh)
            stacked = np.stack([fresh[k] for k in self._keys]).astype(np.float32, copy=False)
            self._rows = np.empty((max(2 * len(stacked), FIRST_ROWS), stacked.shape[1]),
                                  dtype=np.float32)
            self._rows[:len(stacked)] = stacked
        count = len(self._keys)
        return self._keys[:count], self._rows[:count]
