"""Grouping face vectors into people, and finding a new face's person.

The full grouping is DBSCAN (scikit-learn) on a sparse graph of each face's nearest
neighbours within `max_distance` (cosine distance): a face with at least `min_faces` such
neighbours (itself included) is the core of a person, and faces within reach of a core
join it; the rest stay unassigned until more of their kind arrive. This is immich's rule
(maxDistance, minFaces) and PhotoPrism's method. Neighbours come from blocked exact
matrix products, so the graph is exact and costs O(n²·d) multiply-adds, done by BLAS.

A new face joins the person of its nearest assigned face if that face is within
`max_distance` (immich's incremental rule): no re-grouping of the library.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.ml.face_thresholds import Thresholds

if TYPE_CHECKING:  # scipy and scikit-learn are read when faces are grouped, not at import:
    from scipy.sparse import csr_matrix  # a command that only searches never pays for them

BLOCK = 2048
"""Rows of the distance matrix computed at once (2048 x 100,000 float32: 800 MB would be
too much; the block is cut to what fits in about 256 MB)."""
NEIGHBOURS = 64
"""At most this many neighbours per face are kept in the graph: enough to find the cores
of people with many photos, bounded memory for a library of one person's face."""
EXACT_BELOW = 20_000
"""Up to this many faces the graph is exact (a few seconds); above, annoy's approximate
neighbours (the index the search already uses) keep a 100,000-face grouping near a
minute instead of the quadratic product's several."""
ANNOY_TREES = 16


def neighbour_graph(vectors: NDArray[np.float32], max_distance: float) -> csr_matrix:
    """Sparse cosine distances to each face's neighbours within `max_distance` (at most
    NEIGHBOURS per face, the nearest): one matrix product per block of rows, then a
    comparison, so only the few pairs close enough are ever sorted."""
    from scipy.sparse import csr_matrix

    n = len(vectors)
    data: list[NDArray[np.float32]] = []
    rows: list[NDArray[np.int64]] = []
    cols: list[NDArray[np.int64]] = []
    block = max(1, min(BLOCK, (256 << 20) // max(1, 4 * n)))
    for start in range(0, n, block):
        distance = 1.0 - vectors[start : start + block] @ vectors.T
        row, col = np.nonzero(distance <= max_distance)
        picked = distance[row, col]
        counts = np.bincount(row, minlength=len(distance))
        if counts.max(initial=0) > NEIGHBOURS:  # a crowd of one person: keep the nearest
            keep = np.ones(len(row), dtype=bool)
            offsets = np.concatenate([[0], np.cumsum(counts)])
            for r in np.flatnonzero(counts > NEIGHBOURS):
                span = slice(offsets[r], offsets[r + 1])
                order = np.argsort(picked[span], kind="stable")
                mask = np.zeros(counts[r], dtype=bool)
                mask[order[:NEIGHBOURS]] = True
                keep[span] = mask
            row, col, picked = row[keep], col[keep], picked[keep]
        rows.append(row.astype(np.int64) + start)
        cols.append(col.astype(np.int64))
        # zero distances (a face and itself, exact copies) must stay in a sparse graph
        data.append(np.maximum(picked, 1e-9).astype(np.float32))
    return csr_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(n, n))


def approximate_graph(vectors: NDArray[np.float32], max_distance: float) -> csr_matrix:
    """As neighbour_graph, from annoy's approximate NEIGHBOURS nearest of each face
    (angular distance d is sqrt(2 - 2 cos), so the cosine distance is d² / 2)."""
    from annoy import AnnoyIndex
    from scipy.sparse import csr_matrix

    n, dim = vectors.shape
    index = AnnoyIndex(dim, "angular")
    for i, vector in enumerate(vectors):
        index.add_item(i, vector)
    index.build(ANNOY_TREES, n_jobs=-1)
    rows: list[int] = []
    cols: list[int] = []
    data: list[float] = []
    limit = math.sqrt(2 * max_distance)
    for i in range(n):
        found, distances = index.get_nns_by_item(i, NEIGHBOURS, include_distances=True)
        for j, d in zip(found, distances, strict=True):
            if d > limit:
                break  # nearest first: the rest are farther
            rows.append(i)
            cols.append(j)
            data.append(max(d * d / 2, 1e-9))
    return csr_matrix((np.asarray(data, dtype=np.float32), (rows, cols)), shape=(n, n))


def group(vectors: NDArray[np.float32], thresholds: Thresholds) -> NDArray[np.int64]:
    """A label per face (-1: in no group yet)."""
    from sklearn.cluster import DBSCAN

    if len(vectors) == 0:
        return np.zeros(0, dtype=np.int64)
    exact = np.ascontiguousarray(vectors, dtype=np.float32)
    graph = (neighbour_graph(exact, thresholds.max_distance) if len(exact) < EXACT_BELOW
             else approximate_graph(exact, thresholds.max_distance))
    labels = DBSCAN(eps=thresholds.max_distance, min_samples=thresholds.min_faces,
                    metric="precomputed").fit_predict(graph)
    return np.asarray(labels, dtype=np.int64)


def nearest(vector: NDArray[np.float32], vectors: NDArray[np.float32]) -> tuple[int, float]:
    """The closest of `vectors` and its cosine distance; (-1, inf) when there are none."""
    if len(vectors) == 0:
        return -1, float("inf")
    distance = 1.0 - vectors.astype(np.float32) @ vector.astype(np.float32)
    best = int(np.argmin(distance))
    return best, float(distance[best])
