"""Filters answered by sets of photos, not by the catalog's columns: the people in them
(person:, faces:, unnamed:) and their tags (tag:, tag~:, -tag:)."""

from __future__ import annotations

from collections.abc import Callable, Collection

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.search.catalog import Columns
from anagnorisisd.search.query import PEOPLE_FIELDS, Filter, Query
from anagnorisisd.search.tags import TagBook


def rows_of(contents: Collection[bytes], columns: Columns) -> NDArray[np.bool_]:
    """A mask of the catalog's rows holding these contents (others are ignored)."""
    rows = np.fromiter((columns.position.get(c, -1) for c in contents), dtype=np.intp,
                       count=len(contents))
    passing = np.zeros(len(columns.ids), dtype=bool)
    passing[rows[rows >= 0]] = True
    return passing


def people_mask(query: Query, columns: Columns,
                people: Callable[[Filter], set[bytes]] | None) -> NDArray[np.bool_]:
    """The rows passing every people filter; none pass when nobody knows the people."""
    mask = np.ones(len(columns.ids), dtype=bool)
    for f in query.filters:
        if f.field in PEOPLE_FIELDS:
            mask &= rows_of(people(f) if people else set(), columns)
    return mask


def tag_mask(query: Query, columns: Columns, tags: TagBook,
             suggested: Callable[[str, bool], set[bytes]] | None) -> NDArray[np.bool_]:
    """The rows passing every tag filter: tag:NAME (the tag book's, where confirmed
    concepts are tags too), tag~:NAME (the concepts' suggestions) and -tag:NAME."""
    mask = np.ones(len(columns.ids), dtype=bool)
    for f in query.filters:
        if f.field != "tag":
            continue
        if f.op == "~":
            passing = rows_of(suggested(str(f.value), True) if suggested else set(), columns)
        else:
            passing = np.zeros(len(columns.ids), dtype=bool)
            passing[tags.rows(str(f.value), columns)] = True
        mask &= ~passing if f.op == "!=" else passing
    return mask
