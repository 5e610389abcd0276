"""The culling feature's words: how a shot came out, answered from the catalog's columns
(the quality stage's exposure and sharpness, the face_quality stage's eyes and focus).

    eyes:closed  eyes:open  face:blurry  face:sharp  exposure:under|over|ok  misfire:
    sharp>100    sharpness (a sort: sharpest first)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.feature import Word
from anagnorisisd.search.query import Query, Token, number

STATES = {"eyes": ("open", "closed"), "face": ("sharp", "blurry"),
          "exposure": ("under", "over", "ok")}
UNDER_STOPS, UNDER_DARK = -2.5, 0.4
OVER_STOPS, OVER_BRIGHT = 1.8, 0.2
"""exposure:under and exposure:over for a photo on its own: a mean more than 2.5 stops
under mid-grey or 40 % of it crushed to black; more than 1.8 stops over or 20 % blown.
Wide on purpose: a night scene is dark and snow is bright. Within a stack, culling
compares the shots with each other instead (keepers.py)."""


def parse_state(query: Query, token: Token) -> None:
    key = token.raw.split(":", 1)[0].lower()
    value = token.value.lower()
    if value not in STATES[key]:
        raise token.error(f"{key}: takes {' or '.join(STATES[key])}")
    query.add(key, "=", value)


def parse_misfire(query: Query, token: Token) -> None:
    query.add("misfire", "=", 1.0)


def parse_sharp(query: Query, token: Token) -> None:
    query.add("sharp", token.op, number(token, what="sharp"))


WORDS = [
    Word("eyes", "key", "eyes:closed (a face with its eyes shut) or eyes:open (every face's "
         "eyes open)", parse_state),
    Word("face", "key", "face:blurry (a face out of focus) or face:sharp", parse_state),
    Word("exposure", "key", "exposure:under, exposure:over or exposure:ok", parse_state),
    Word("misfire:", "exact", "a shot that misfired: nearly black, nearly uniform or blurred "
         "throughout", parse_misfire, ("misfire",)),
    Word("sharp", "compare", "how sharp (variance of the Laplacian; blurred shots measure under "
         "about 100): sharp>100", parse_sharp),
    Word("sharpness", "sort", "sharpest first"),
]


def matches(f: Any, columns: Any) -> NDArray[np.bool_]:
    """The rows passing one of the words above. Photos not measured yet, or with no face
    for the face words, pass no side."""
    with np.errstate(invalid="ignore"):
        if f.field == "misfire":
            return np.asarray(columns.misfire, dtype=bool)
        if f.field == "sharp":
            ops = {">=": np.greater_equal, "<=": np.less_equal, ">": np.greater,
                   "<": np.less, "=": np.equal, "!=": np.not_equal}
            return np.asarray(ops[f.op](columns.sharpness, f.value)
                              & ~np.isnan(columns.sharpness))
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


def sharpest(columns: Any, rows: NDArray[np.intp], descending: bool) -> NDArray[np.intp]:
    key = np.nan_to_num(columns.sharpness[rows], nan=-1.0)
    return rows[np.lexsort((columns.id_array[rows], -key if descending else key))]
