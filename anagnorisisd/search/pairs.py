"""RAW+JPEG pairs and Live Photos: a camera set to write both leaves two files of one shot
side by side, same name, same moment, and a phone's Live Photo is a still and a short MOV
of its motion. To the person each is one photo: one tile (the still's), one rating, one
decision, and a trash that takes both.

A pair is a RAW file and a developed one (JPEG or HEIF) in the same folder whose names
differ only in the extension (any case: IMG_0001.CR2 and IMG_0001.JPG), taken within
PAIR_GAP_S of each other where both times are known. A name shared by more than one RAW
or more than one developed file is no pair: which goes with which would be a guess. A
Live Photo is a still (HEIC or JPEG) and a .MOV beside it under the same rule, or a still
and a MOV anywhere in one folder that carry the same Apple content identifier (the MOV's
QuickTime key, the still's MakerNote: what Photos itself pairs by, so a renamed export
still pairs).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable

from anagnorisisd.imaging.formats import DEVELOPED, is_raw

PAIR_GAP_S = 2.0
MOTION = (".mov",)
"""What a phone writes a Live Photo's motion as."""


def find_pairs(files: Iterable[tuple[str, bytes]], taken: Callable[[bytes], float],
               identifier: Callable[[bytes], str | None] = lambda _c: None
               ) -> dict[bytes, bytes]:
    """RAW or motion content -> the developed content (the still) it pairs with, from
    (path, content) of every live file, each content's capture time (nan where unknown)
    and its Apple content identifier (None where it has none). Identifiers are asked for
    only for motions that found no still by name, and for the stills in their folders."""
    shots: dict[tuple[str, str], tuple[list[bytes], list[bytes], list[bytes]]] = {}
    for path, content in files:
        folder, name = os.path.split(path)
        stem, extension = os.path.splitext(name)
        kind = 0 if is_raw(path) else 1 if extension.lower() in DEVELOPED else \
            2 if extension.lower() in MOTION else -1
        if kind >= 0:
            shots.setdefault((folder, stem.casefold()), ([], [], []))[kind].append(content)
    pairs: dict[bytes, bytes] = {}
    for raws, developed, motions in shots.values():
        _pair(pairs, raws, developed, taken)
        _pair(pairs, motions, developed, taken)
    _pair_by_identifier(pairs, shots, taken, identifier)
    return pairs


def _pair(pairs: dict[bytes, bytes], hidden: list[bytes], developed: list[bytes],
          taken: Callable[[bytes], float]) -> None:
    if len(set(hidden)) != 1 or len(set(developed)) != 1 or hidden[0] == developed[0] \
            or hidden[0] in pairs:
        return
    a, b = taken(hidden[0]), taken(developed[0])
    if not (math.isnan(a) or math.isnan(b)) and abs(a - b) > PAIR_GAP_S:
        return
    pairs[hidden[0]] = developed[0]


def _pair_by_identifier(pairs: dict[bytes, bytes],
                        shots: dict[tuple[str, str], tuple[list[bytes], list[bytes],
                                                           list[bytes]]],
                        taken: Callable[[bytes], float],
                        identifier: Callable[[bytes], str | None]) -> None:
    alone: dict[str, dict[str, list[bytes]]] = {}
    for (folder, _), (_, _, motions) in shots.items():
        for motion in motions:
            if motion not in pairs and (found := identifier(motion)):
                alone.setdefault(folder, {}).setdefault(found, []).append(motion)
    if not alone:
        return
    shown = set(pairs.values())
    for (folder, _), (_, developed, _) in shots.items():
        wanted = alone.get(folder) or {}
        for still in developed if wanted else ():
            found = identifier(still) if still not in shown else None
            if found and found in wanted:
                _pair(pairs, wanted[found], [still], taken)
