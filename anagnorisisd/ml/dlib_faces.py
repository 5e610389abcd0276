"""dlib's face models, which install with anagnorisisd from the package index (`dlib-bin`
and `face-recognition-models`): its HOG detector, five-point landmarks and ResNet
descriptor, 128 numbers a face. They are the face model that works with no download at
all, so a new library gets people offline; immich's buffalo_l, once pulled, finds more
faces (turned, small, in the dark) and tells people apart better (docs/models.md has the
comparison, bench/bench_faces.py measures it).

- Detection: the frontal HOG detector on the view scaled to DETECT_SIDE on its longest
  side, upsampled once: faces down to about 40 px there (about 60 px on the 1440-px view
  the faces stage reads). Its score is an SVM margin with 0 as dlib's own threshold,
  mapped to 0..1 as 1 / (1 + exp(-(margin + 1))): dlib's threshold lands at 0.73, beside
  immich's default minScore of 0.7.
- Description: the ResNet descriptor on the five-point alignment dlib defines, L2-normalised
  here so that, as with immich's vectors, cosine similarity is a dot product. The people
  thresholds for 128-d vectors are dlib's own (features/people/clustering.py).

Licences: dlib's code is Boost-licensed; face-recognition-models says its models are "in
the public domain or under CC0 1.0 Universal"; see docs/models.md.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.ml.faces import Face, l2_rows, largest
from anagnorisisd.ml.layout import ModelError
from anagnorisisd.ml.slot import LocalModel

NAME = "dlib"
DETECT_SIDE = 1000
"""The longest side detection runs at: 0.5-0.6 s a photo on one core with one upsample."""
FILES = ("shape_predictor_5_face_landmarks.dat", "dlib_face_recognition_resnet_model_v1.dat")


def models_folder() -> Path | None:
    """face-recognition-models' folder, found without importing the package (its
    __init__ needs pkg_resources, which new setuptools no longer has)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "models"
    return folder if all((folder / f).is_file() for f in FILES) else None


def score_of(margin: float) -> float:
    return 1.0 / (1.0 + math.exp(-(margin + 1.0)))


class DlibFaces(LocalModel):
    """One picture at a time (dlib's objects are not for two threads at once)."""

    def __init__(self, folder: Path) -> None:
        try:
            import dlib
        except ImportError as exc:  # the wheel is a dependency: a broken install
            raise ModelError(f"dlib cannot be imported: {exc}") from None
        self.detector = dlib.get_frontal_face_detector()
        self.landmarks = dlib.shape_predictor(str(folder / FILES[0]))
        self.describer = dlib.face_recognition_model_v1(str(folder / FILES[1]))
        self._rectangle = dlib.rectangle
        self._lock = threading.Lock()
        digest = hashlib.blake2b(digest_size=6)
        for name in FILES:
            digest.update(f"{name}:{(folder / name).stat().st_size}".encode())
        self._identity = f"{NAME}:{digest.hexdigest()}"

    def status(self) -> dict[str, Any]:
        return {"family": "dlib (HOG detector, 5-point landmarks, ResNet descriptor)"}

    def faces(self, rgb: NDArray[np.uint8], min_score: float,
              most: int | None = None) -> tuple[list[Face], int]:
        height, width = rgb.shape[:2]
        scale = min(1.0, DETECT_SIDE / max(height, width, 1))
        small = rgb if scale >= 1.0 else _resized(rgb, scale)
        small = np.ascontiguousarray(small, dtype=np.uint8)
        with self._lock:
            rects, margins, _ = self.detector.run(small, 1, -1.0)
            found = [(r, score_of(float(m))) for r, m in zip(rects, margins, strict=True)
                     if score_of(float(m)) >= min_score]
            boxes = np.asarray([[r.left() / scale, r.top() / scale, r.right() / scale,
                                 r.bottom() / scale] for r, _ in found],
                               dtype=np.float32).reshape(-1, 4)
            keep = largest(boxes, most)
            vectors = []
            for i in keep:
                shape = self.landmarks(small, found[int(i)][0])
                vectors.append(np.asarray(self.describer.compute_face_descriptor(small, shape),
                                          dtype=np.float32))
        if not len(keep):
            return [], len(found)
        normed = l2_rows(np.stack(vectors))
        out = []
        for i, vector in zip(keep, normed, strict=True):  # no landmarks kept: dlib's five
            x1, y1, x2, y2 = (float(v) for v in boxes[int(i)])  # are not immich's five
            out.append(Face(box=(max(0.0, x1), max(0.0, y1), min(float(width), x2),
                                 min(float(height), y2)),
                            score=found[int(i)][1], vector=vector))
        return out, len(found)


def _resized(rgb: NDArray[np.uint8], scale: float) -> NDArray[np.uint8]:
    import cv2

    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    return np.asarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), dtype=np.uint8)


def load_dlib_faces() -> DlibFaces:
    folder = models_folder()
    if folder is None:
        raise ModelError("dlib's face models are missing: 'face-recognition-models' is not "
                         "installed beside anagnorisisd (pip install face-recognition-models)")
    return DlibFaces(folder)
