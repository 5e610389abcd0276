"""The query language's filters, answered from the catalog's columns: one vectorised pass
per filter over every photo, no per-photo Python."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.search.catalog import Columns
from anagnorisisd.search.query import (
    FORMAT_FAMILIES,
    PEOPLE_FIELDS,
    STATE_FILTERS,
    TAG_FIELDS,
    WORD_FIELDS,
    Filter,
    Query,
)

UNDER_STOPS, UNDER_DARK = -2.5, 0.4
OVER_STOPS, OVER_BRIGHT = 1.8, 0.2
"""exposure:under and exposure:over for a photo on its own: a mean more than 2.5 stops
under mid-grey or 40 % of it crushed to black; more than 1.8 stops over or 20 % blown.
Wide on purpose: a night scene is dark and snow is bright. Within a stack, culling
compares the shots with each other instead (search/keepers.py)."""


def state_mask(f: Filter, columns: Columns) -> NDArray[np.bool_]:
    """eyes:closed (a face with its eyes shut), eyes:open (faces, every one's eyes open),
    face:blurry (a blurred face), face:sharp (faces, none blurred), exposure:under, over
    and ok. Photos not measured yet, or with no face for the face words, pass no side."""
    with np.errstate(invalid="ignore"):
        if f.field == "exposure":
            under = (columns.stops < UNDER_STOPS) | (columns.dark > UNDER_DARK)
            over = (columns.stops > OVER_STOPS) | (columns.bright > OVER_BRIGHT)
            if f.value == "under":
                return np.asarray(under)
            if f.value == "over":
                return np.asarray(over)
            return np.asarray(~np.isnan(columns.stops) & ~under & ~over)
        if f.field == "eyes":
            if f.value == "closed":
                return np.asarray(columns.eyes_closed >= 1)
            return np.asarray((columns.eyes_open >= 1) & (columns.eyes_closed == 0))
        measured = (columns.eyes_open + columns.eyes_closed) >= 1
        measured |= columns.least_sharp >= 0
        if f.value == "blurry":
            return np.asarray(columns.blurry_faces >= 1)
        return np.asarray(measured & (columns.blurry_faces == 0))

def filter_mask(query: Query, columns: Columns) -> NDArray[np.bool_]:
    """The rows that pass every filter answered by the catalog's columns.

    Unreadable files are counted apart, never shown as tiles; a file still being
    described (no size, no thumbnail yet) is shown once it is; a RAW paired with its JPEG
    is shown as the JPEG."""
    # Unreadable files are counted apart, never shown as tiles; a file still being
    # described (no size, no thumbnail yet) is shown once it is.
    mask = ~columns.failed & columns.ready & ~columns.twin
    for f in query.filters:
        if f.field == "score" or f.field in PEOPLE_FIELDS or f.field in WORD_FIELDS or \
                f.field in TAG_FIELDS:
            continue  # the similarities themselves (search), people_mask, the words, tags
        if f.field in ("camera", "place"):
            column = columns.camera if f.field == "camera" else columns.place
            mask &= np.char.find(column, str(f.value)) >= 0
            continue
        if f.field == "gps":
            mask &= columns.has_gps
            continue
        if f.field == "misfire":
            mask &= columns.misfire
            continue
        if f.field in STATE_FILTERS:
            mask &= state_mask(f, columns)
            continue
        if f.field == "format":
            values = np.isin(columns.format, FORMAT_FAMILIES.get(str(f.value), (f.value,)))
            mask &= values if f.op == "=" else ~values
            continue
        data = {"rating": columns.rating, "width": columns.width, "height": columns.height,
                "size": columns.size, "ratio": columns.ratio,
                "pixels": columns.pixels, "taken": columns.taken,
                "sharp": columns.sharpness}[f.field]
        ops: dict[str, Callable[[Any, Any], Any]] = {
            ">=": np.greater_equal, "<=": np.less_equal, ">": np.greater, "<": np.less,
            "=": np.equal, "!=": np.not_equal}
        with np.errstate(invalid="ignore"):
            mask &= ops[f.op](data, f.value) & ~np.isnan(data)
    return mask
