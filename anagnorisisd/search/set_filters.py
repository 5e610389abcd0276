"""Filters answered by sets of photos, not by the catalog's columns: a feature that knows
which photos pass (the people in them, their tags) hands the set, and this turns it into
catalog rows."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.search.catalog_rows import Columns


def rows_of(contents: Collection[bytes], columns: Columns) -> NDArray[np.bool_]:
    """A mask of the catalog's rows holding these contents (others are ignored)."""
    rows = np.fromiter((columns.position.get(c, -1) for c in contents), dtype=np.intp,
                       count=len(contents))
    passing = np.zeros(len(columns.ids), dtype=bool)
    passing[rows[rows >= 0]] = True
    return passing
