"""Every row's order by one column, kept while that column is unchanged.

A page of the library asks for the whole library in date order: at 100,000 photos a
lexsort of 25 ms, and under the soak's load the most frequent thing a request thread was
seen doing (py-spy dumps). A rating changes no date, so the order of every row is kept
per (column, direction) with the columns' sort_version it was sorted at; a query's rows
are then that order filtered by membership (the order of any subset is the whole order's,
restricted: ties are broken by the content id, unique). A changed value in a sorted column
(Catalog._update_row moves sort_version on), or new columns (photos came or went), sorts
again. Comparing a copy of the column instead cost more than the sort it saved, under load.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray


class SortedRows:
    """The kept orders of one Columns object; safe from any thread (a race sorts twice)."""

    def __init__(self) -> None:
        self._columns: Any = None
        self._kept: dict[tuple[str, bool], tuple[int, NDArray[np.intp]]] = {}
        self._lock = threading.Lock()

    def order(self, columns: Any, mode: str, key: NDArray[Any], descending: bool,
              rows: NDArray[np.intp], sort: Callable[[NDArray[np.intp]], NDArray[np.intp]]
              ) -> NDArray[np.intp]:
        """`rows` in the order `sort` gives every row, by `key` (a column of `columns`)."""
        version = columns.sort_version  # read before sorting: a change meanwhile sorts again
        with self._lock:
            if self._columns is not columns:
                self._columns, self._kept = columns, {}
            kept = self._kept.get((mode, descending))
        if kept is None or kept[0] != version:
            everything = np.arange(len(key), dtype=np.intp)
            ordered = sort(everything)
            ordered.setflags(write=False)  # handed out as it is: never changed in place
            kept = (version, ordered)
            with self._lock:
                if self._columns is columns:
                    self._kept[(mode, descending)] = kept
        full = kept[1]
        if len(rows) == len(full):
            return full
        member = np.zeros(len(full), dtype=bool)
        member[rows] = True
        return full[member[full]]
