"""A check on pixels that owes nothing to the model: do two photos look alike?

Grouping by a model's cosine alone is only as good as the model, and a model unfit for
photos groups a snapshot, a ladybird and a portrait. Before a photo is trashed as a
near-duplicate or a burst's non-keeper, its thumbnail must also look like the keeper's
at pixel level: a difference hash (dHash) of the grey thumbnail, which survives
re-encoding, resizing, slight blur and a small reframing, but not a different scene.
"""

from __future__ import annotations

import io

import numpy as np
from numpy.typing import NDArray
from PIL import Image

HASH_SIDE = 16
"""A 16x16 gradient grid: 256 bits, fine enough that two scenes with the same overall
light and layout still differ in dozens of bits."""
ALIKE_BITS = 0.2
"""At most this share of the bits may differ (measured in bench/bench_pixels.py: bursts,
re-encodings and blurred shots of one scene differ in under 0.16; different scenes in
0.3 and more)."""
FLAT = 3
"""Grey-level steps this small (of 255) are noise and JPEG ringing, not an edge."""
ALIKE_RATIO = 0.12
"""Aspect ratios further apart than this (relative) are different framings, not copies."""


Fingerprint = tuple[NDArray[np.int8], float]


def fingerprint(thumbnail: bytes) -> Fingerprint:
    """The signs of the grey thumbnail's horizontal and vertical steps on a grid (+1, -1,
    or 0 where the step is too small to mean anything), and its aspect ratio."""
    with Image.open(io.BytesIO(thumbnail)) as img:
        ratio = img.width / max(1, img.height)
        grey = img.convert("L").resize((HASH_SIDE + 1, HASH_SIDE + 1), Image.Resampling.BOX)
    cells = np.asarray(grey, dtype=np.int16)
    steps = np.concatenate([(cells[:-1, 1:] - cells[:-1, :-1]).ravel(),
                            (cells[1:, :-1] - cells[:-1, :-1]).ravel()])
    signs = np.where(steps > FLAT, 1, np.where(steps < -FLAT, -1, 0)).astype(np.int8)
    return signs, ratio


def distance(a: Fingerprint, b: Fingerprint) -> float:
    """The share of the steps either photo has that the other has not the same way: 0 for
    the same picture, about 0.5 and more for different ones. Flat areas (sky, a plain
    background) count only where the other photo has an edge, so two different pictures
    on one plain background are told apart by their subjects."""
    (signs_a, _), (signs_b, _) = a, b
    either = (signs_a != 0) | (signs_b != 0)
    if not either.any():
        return 0.0  # both flat all over: alike as far as pixels can tell
    return float(np.mean(signs_a[either] != signs_b[either]))


def alike(a: Fingerprint, b: Fingerprint) -> bool:
    ratio_a, ratio_b = a[1], b[1]
    if abs(ratio_a - ratio_b) > ALIKE_RATIO * max(ratio_a, ratio_b):
        return False
    return distance(a, b) <= ALIKE_BITS
