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

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from sklearn.cluster import DBSCAN

BLOCK = 2048
"""Rows of the distance matrix computed at once (2048 x 100,000 float32: 800 MB would be
too much; the block is cut to what fits in about 256 MB)."""
NEIGHBOURS = 64
"""At most this many neighbours per face are kept in the graph: enough to find the cores
of people with many photos, bounded memory for a library of one person's face."""


@dataclass(frozen=True)
class Thresholds:
    max_distance: float
    min_faces: int
    calibrated: str
    """Where the numbers come from."""


def thresholds_for(dim: int) -> Thresholds:
    """Face vectors of different models separate people at very different distances."""
    if dim == 128:  # dlib's ResNet descriptor, L2-normalised here
        return Thresholds(0.04, 3, "measured on face-api's demo photos and their re-encodings,"
                          " crops and rescales (tests/test_people.py)")
    return Thresholds(0.5, 3, "immich's defaults for its ArcFace models (maxDistance 0.5, "
                      "minFaces 3)")


def neighbour_graph(vectors: NDArray[np.float32], max_distance: float) -> csr_matrix:
    """Sparse cosine distances to each face's neighbours within `max_distance`."""
    n = len(vectors)
    data: list[NDArray[np.float32]] = []
    rows: list[NDArray[np.int64]] = []
    cols: list[NDArray[np.int64]] = []
    block = max(1, min(BLOCK, (256 << 20) // max(1, 4 * n)))
    for start in range(0, n, block):
        part = vectors[start : start + block].astype(np.float32)
        distance = 1.0 - part @ vectors.astype(np.float32).T
        k = min(NEIGHBOURS, n)
        nearest = np.argpartition(distance, k - 1, axis=1)[:, :k] if k < n else np.broadcast_to(
            np.arange(n), (len(part), n))
        picked = np.take_along_axis(distance, nearest, axis=1)
        keep = picked <= max_distance
        row_index = np.repeat(np.arange(start, start + len(part)), nearest.shape[1])
        rows.append(row_index[keep.ravel()])
        cols.append(nearest.ravel()[keep.ravel()])
        # zero distances (a face and itself, exact copies) must stay in a sparse graph
        data.append(np.maximum(picked.ravel()[keep.ravel()], 1e-9).astype(np.float32))
    return csr_matrix((np.concatenate(data) if data else np.zeros(0, np.float32),
                       (np.concatenate(rows) if rows else np.zeros(0, np.int64),
                        np.concatenate(cols) if cols else np.zeros(0, np.int64))),
                      shape=(n, n))


def group(vectors: NDArray[np.float32], thresholds: Thresholds) -> NDArray[np.int64]:
    """A label per face (-1: in no group yet)."""
    if len(vectors) == 0:
        return np.zeros(0, dtype=np.int64)
    graph = neighbour_graph(vectors, thresholds.max_distance)
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
