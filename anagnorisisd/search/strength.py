"""How many results of a search by meaning are strong matches: the rest of the library is
ranked too (the nearest of what there is), and "299 images for 'parking'" would say
nothing about which of them are parking lots.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

STRONG_GAP = 0.2
"""Strong matches end at the largest drop among the best KNEE scores, if that drop is at
least this many of the library's standard deviations (a random sample of BACKGROUND
photos): CLIP's cosines mean nothing alone (0.25 is a fine match for one model and noise
for another), but a photo standing clearly apart from the next does. Measured on the
shipped model (tests/test_search.py): a query with five true matches drops by 0.32-0.33
deviations after them; a query nothing matches ("a dog") by 0.07 at most."""
KNEE = 100
BACKGROUND = 512


def strong_matches(sample: NDArray[np.float32], vector: NDArray[np.float32],
                   shown: list[bytes], scored: dict[bytes, float]) -> int | None:
    """How many of the results, from the first, stand apart from the rest (STRONG_GAP),
    measured against `sample`, some of the library's vectors; None for a library too small
    to tell."""
    if len(sample) < 30 or sample.shape[1] != len(vector):
        return None
    spread = float((sample @ vector).std())
    best = sorted((scored[c] for c in shown[:KNEE] if c in scored), reverse=True)
    if len(best) < 2 or spread <= 0:
        return 0
    drops = -np.diff(np.asarray(best))
    knee = int(np.argmax(drops))
    if drops[knee] < STRONG_GAP * spread or knee + 1 > len(shown) // 2:
        return 0
    return knee + 1
