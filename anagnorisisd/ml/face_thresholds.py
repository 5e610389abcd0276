"""When two face vectors are one person: the distances each model's vectors separate people
at, shared by the people feature's grouping and the faces stage (which keeps a person seen
in several scenes of one clip once)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


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


def same_person(a: NDArray[np.float32], b: NDArray[np.float32]) -> bool:
    """Whether two face vectors of one model are one person's, by the cosine distance
    that model's people are grouped at."""
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    cosine = float(a.astype(np.float32) @ b.astype(np.float32)) / norms if norms else 0.0
    return 1.0 - cosine <= thresholds_for(len(a)).max_distance
