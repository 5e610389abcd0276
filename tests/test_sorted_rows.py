"""The library's orders are kept while their column is unchanged: any query's rows come out
exactly as a sort of those rows alone would give, before and after a column changes; the
catalog says when a sorted column changed in place (Columns.sort_version), and a rating
does not."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from anagnorisisd.search.catalog import Catalog
from anagnorisisd.search.core_words import LibraryFeature
from anagnorisisd.store.database import Store
from tests.test_pairs import add_file


def columns(n: int, rng: np.random.Generator) -> SimpleNamespace:
    taken = rng.integers(0, 50, n).astype(np.float64)  # many ties: the id breaks them
    taken[rng.random(n) < 0.1] = np.nan  # undated
    return SimpleNamespace(taken=taken, size=rng.integers(0, 9, n).astype(np.float64),
                           ratio=rng.random(n), pixels=rng.integers(0, 5, n).astype(np.float64),
                           id_array=np.array([os.urandom(32) for _ in range(n)], dtype="S32"),
                           sort_version=0)


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
            cols.sort_version += 1
        if step % 7 == 2:
            cols.size[rng.integers(0, 3000)] = float(rng.integers(0, 9))
            cols.sort_version += 1
        if step == 30:  # photos came: new columns
            cols = columns(3100, rng)
        rows = np.flatnonzero(rng.random(len(cols.taken)) < (1.0 if step % 4 == 0 else 0.3))
        for mode in ("date", "file-size", "proportion", "resolution"):
            for descending in (True, False):
                got = library.order(mode, cols, rows, descending)
                assert np.array_equal(got, sorted_alone(cols, mode, rows, descending)), (
                    step, mode, descending)


def test_the_catalog_moves_sort_version_for_a_new_date_and_not_for_a_rating(
        tmp_path: Path) -> None:
    first, second = b"a" * 32, b"b" * 32
    store = Store(tmp_path / "data")
    try:
        add_file(store, "/p/a.jpg", first)
        add_file(store, "/p/b.jpg", second)
        catalog = Catalog(store, metadata_stage="meta")
        catalog.load()
        columns = catalog.columns()
        version = columns.sort_version
        catalog.set_rating(first, 8.0)
        assert catalog.columns() is columns and columns.sort_version == version
        catalog.on_result("meta", second, {"format": "jpeg", "width": 4, "height": 3,
                                           "file_size": 100,
                                           "taken_at": "2024-05-01T10:00:00"})
        assert catalog.columns() is columns and columns.sort_version == version + 1
        assert not np.isnan(columns.taken[columns.position[second]])
    finally:
        store.close()
