"""The library's orders are kept while their column is unchanged: any query's rows come out
exactly as a sort of those rows alone would give, before and after a column changes."""

from __future__ import annotations

import os
from types import SimpleNamespace

import numpy as np

from anagnorisisd.search.core_words import LibraryFeature


def columns(n: int, rng: np.random.Generator) -> SimpleNamespace:
    taken = rng.integers(0, 50, n).astype(np.float64)  # many ties: the id breaks them
    taken[rng.random(n) < 0.1] = np.nan  # undated
    return SimpleNamespace(taken=taken, size=rng.integers(0, 9, n).astype(np.float64),
                           ratio=rng.random(n), pixels=rng.integers(0, 5, n).astype(np.float64),
                           id_array=np.array([os.urandom(32) for _ in range(n)], dtype="S32"))


def sorted_alone(cols: SimpleNamespace, mode: str, rows: np.ndarray, descending: bool
                 ) -> np.ndarray:
    key = {"date": cols.taken, "file-size": cols.size, "proportion": cols.ratio,
           "resolution": cols.pixels}[mode][rows]
    if mode == "date":
        return rows[np.lexsort((cols.id_array[rows], -key if descending else key,
                                np.isnan(key)))]
    key = np.nan_to_num(key, nan=-1.0)
    return rows[np.lexsort((cols.id_array[rows], -key if descending else key))]


def test_kept_orders_answer_as_a_fresh_sort_through_changes() -> None:
    rng = np.random.default_rng(2)
    library = LibraryFeature()
    cols = columns(3000, rng)
    for step in range(60):
        if step % 5 == 1:  # another photo's date read, in place
            cols.taken[rng.integers(0, 3000)] = float(rng.integers(0, 50))
        if step % 7 == 2:
            cols.size[rng.integers(0, 3000)] = float(rng.integers(0, 9))
        if step == 30:  # photos came: new columns
            cols = columns(3100, rng)
        rows = np.flatnonzero(rng.random(len(cols.taken)) < (1.0 if step % 4 == 0 else 0.3))
        for mode in ("date", "file-size", "proportion", "resolution"):
            for descending in (True, False):
                got = library.order(mode, cols, rows, descending)
                assert np.array_equal(got, sorted_alone(cols, mode, rows, descending)), (
                    step, mode, descending)
