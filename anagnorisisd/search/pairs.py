"""RAW+JPEG pairs: a camera set to write both leaves two files of one shot side by side,
same name, same moment. To the person they are one photo: one tile, one rating, one
decision, and a trash that takes both.

A pair is a RAW file and a developed one (JPEG or HEIF) in the same folder whose names
differ only in the extension (any case: IMG_0001.CR2 and IMG_0001.JPG), taken within
PAIR_GAP_S of each other where both times are known. A name shared by more than one RAW
or more than one developed file is no pair: which goes with which would be a guess.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable

from anagnorisisd.imaging.formats import DEVELOPED, is_raw

PAIR_GAP_S = 2.0


def find_pairs(files: Iterable[tuple[str, bytes]], taken: Callable[[bytes], float]
               ) -> dict[bytes, bytes]:
    """RAW content -> the developed content it pairs with, from (path, content) of every
    live file and each content's capture time (nan where unknown)."""
    shots: dict[tuple[str, str], tuple[list[bytes], list[bytes]]] = {}
    for path, content in files:
        folder, name = os.path.split(path)
        stem, extension = os.path.splitext(name)
        raw = is_raw(path)
        if not raw and extension.lower() not in DEVELOPED:
            continue
        raws, developed = shots.setdefault((folder, stem.casefold()), ([], []))
        (raws if raw else developed).append(content)
    pairs: dict[bytes, bytes] = {}
    for raws, developed in shots.values():
        if len(set(raws)) != 1 or len(set(developed)) != 1 or raws[0] == developed[0]:
            continue
        a, b = taken(raws[0]), taken(developed[0])
        if not (math.isnan(a) or math.isnan(b)) and abs(a - b) > PAIR_GAP_S:
            continue
        pairs[raws[0]] = developed[0]
    return pairs
