"""Stacks: the shots of one moment (bursts, the same scene taken again), found in one pass.

Two photos are in one stack when they were taken close together (capture time, or the
file's time when the camera wrote none) and look alike (cosine of their embeddings).
Sorting by time and comparing each photo with the one before it makes that one sort and
one row-wise dot product: linear in the library, where comparing every pair is not.
A stack is a run of such links, so a burst that drifts (a pan, a runner) stays one stack
as long as each shot resembles the one before.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

BRACKET_GAP_S = 3.0
"""At most this long between two shots of an exposure bracket: a camera fires one in a
burst, or the photographer steps it by hand within a few seconds."""


@dataclass(frozen=True)
class StackRules:
    gap_s: float = 30.0
    """At most this long between two shots of one stack."""
    similarity: float = 0.85
    """And at least this cosine between their embeddings."""


def find_stacks(taken: NDArray[np.float64], vectors: NDArray[np.float32],
                has_vector: NDArray[np.bool_], rules: StackRules) -> list[NDArray[np.intp]]:
    """Rows (into `taken`, `vectors`) of every stack of two or more, each in time order.

    `vectors` are L2-normalised rows; a row without one (`has_vector` false) or without a
    time joins no stack."""
    usable = np.flatnonzero(~np.isnan(taken) & has_vector)
    if len(usable) < 2:
        return []
    order = usable[np.argsort(taken[usable], kind="stable")]
    close = np.diff(taken[order]) <= rules.gap_s
    alike = np.einsum("ij,ij->i", vectors[order[:-1]], vectors[order[1:]]) >= rules.similarity
    linked = close & alike
    # Runs of links: a stack starts where a link begins after a non-link.
    edges = np.diff(np.r_[0, linked.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [order[a : b + 1] for a, b in zip(starts, ends, strict=True)]


def find_brackets(taken: NDArray[np.float64], bias: NDArray[np.float64],
                  gap_s: float = BRACKET_GAP_S) -> list[NDArray[np.intp]]:
    """Rows of every exposure bracket, each in time order: a run of shots at most `gap_s`
    apart whose EXIF exposure compensation changes from each shot to the next (-2, 0,
    +2). Looks are not asked: a shot two stops darker may not look alike to a model, and
    a bracket is meant to be kept whole, to be merged into one picture later."""
    usable = np.flatnonzero(~np.isnan(taken) & ~np.isnan(bias))
    if len(usable) < 2:
        return []
    order = usable[np.argsort(taken[usable], kind="stable")]
    linked = (np.diff(taken[order]) <= gap_s) & (np.diff(bias[order]) != 0)
    edges = np.diff(np.r_[0, linked.astype(np.int8), 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [order[a : b + 1] for a, b in zip(starts, ends, strict=True)]
