"""Real faces with real weights that install offline: dlib's HOG detector, its five-point
landmarks and its ResNet descriptor (128 numbers per face), from `dlib-bin` and
`face-recognition-models`. The test worker (tests/immich_ml_worker.py) serves them over
immich's `facial-recognition` protocol, so the daemon indexes real people through the same
code path it uses for immich's workers.

dlib's detection score is an SVM margin, with 0 as dlib's own threshold; it is mapped to
0..1 as 1 / (1 + exp(-(margin + 1))), so dlib's threshold lands at 0.73, just above
immich's default minScore of 0.7.
"""

from __future__ import annotations

import importlib.util
import math
import threading
from pathlib import Path
from typing import Any

import numpy as np


def models_folder() -> Path:
    # the package's __init__ imports pkg_resources, which new setuptools lacks: find it only
    spec = importlib.util.find_spec("face_recognition_models")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "models"


class DlibFaces:
    def __init__(self, upsample: int = 1) -> None:
        import dlib

        folder = models_folder()
        self.detector = dlib.get_frontal_face_detector()
        self.landmarks = dlib.shape_predictor(str(folder / "shape_predictor_5_face_landmarks.dat"))
        self.describer = dlib.face_recognition_model_v1(
            str(folder / "dlib_face_recognition_resnet_model_v1.dat"))
        self.upsample = upsample
        self._lock = threading.Lock()  # dlib's objects are not for two threads at once

    def faces(self, rgb: np.ndarray, min_score: float) -> list[dict[str, Any]]:
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        out = []
        with self._lock:
            rects, margins, _ = self.detector.run(rgb, self.upsample, -1.0)
            for rect, margin in zip(rects, margins, strict=True):
                score = 1.0 / (1.0 + math.exp(-(margin + 1.0)))
                if score < min_score:
                    continue
                shape = self.landmarks(rgb, rect)
                vector = np.asarray(self.describer.compute_face_descriptor(rgb, shape))
                h, w = rgb.shape[:2]
                out.append({"boundingBox": {"x1": max(0, rect.left()), "y1": max(0, rect.top()),
                                            "x2": min(w, rect.right()),
                                            "y2": min(h, rect.bottom())},
                            "embedding": vector.tolist(), "score": score})
        return out
