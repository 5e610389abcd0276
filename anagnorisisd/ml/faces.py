"""immich's face models (detection + recognition) run here with ONNX Runtime.

A face model is a pair of graphs in immich's layout, DATA_DIR/models/facial-recognition/
NAME/{detection,recognition}/model.onnx, pulled from the hub's immich-app/NAME repository
or imported from a folder. The detector is SCRFD (insightface's decoding, see
face_geometry); the recogniser is ArcFace on 112-pixel aligned crops, 512 numbers per face
for immich's models. What a worker answers has the same shape (ml.remote_faces), so the
faces stage does not ask which one it has.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.ml import face_geometry as geometry
from anagnorisisd.ml.layout import ModelError
from anagnorisisd.ml.session import OnnxEncoder, SessionSettings
from anagnorisisd.ml.slot import LocalModel

FACE_MODELS = {
    "buffalo_s": "SCRFD-500MF + MobileFaceNet (w600k), the smallest",
    "buffalo_m": "SCRFD-2.5GF + ResNet50 (w600k)",
    "buffalo_l": "SCRFD-10GF + ResNet50 (w600k), immich's default",
    "antelopev2": "SCRFD-10GF + ResNet100 (glint360k), the largest",
}
"""The face models immich publishes on the hub (immich-app/NAME). insightface licenses
their weights for non-commercial research only (docs/models.md)."""

LAYOUT = ("detection/model.onnx", "recognition/model.onnx")
MIN_SCORE = 0.7
"""immich's default detection threshold (its minScore)."""


@dataclass(frozen=True)
class Face:
    """One face in a picture, in that picture's pixels."""

    box: tuple[float, float, float, float]
    score: float
    vector: NDArray[np.float32]
    """L2-normalised: cosine similarity is a dot product."""
    landmarks: tuple[tuple[float, float], ...] | None = None
    """Eyes, nose, mouth corners; None where a worker does not send them (immich's don't)."""


class FaceModel(Protocol):
    """What finds and describes faces: the local sessions or immich workers."""

    @property
    def identity(self) -> str:
        """Names the model and its weights: faces found by another identity are redone."""
        ...

    def available(self) -> bool:
        """Whether it can answer now (immich workers may all refuse the model)."""
        ...

    def faces(self, rgb: NDArray[np.uint8], min_score: float,
              most: int | None = None) -> tuple[list[Face], int]:
        """The faces in an upright RGB picture scoring at least `min_score`, the `most`
        largest of them, and how many there were in all."""
        ...

    def status(self) -> dict[str, Any]:
        """Its part of the stage's status (immich workers: each one's state)."""
        ...

    def close(self) -> None:
        """At shutdown: stop what it runs."""
        ...


@dataclass(frozen=True)
class FaceFiles:
    name: str
    root: Path

    @property
    def detection(self) -> Path:
        return self.root / LAYOUT[0]

    @property
    def recognition(self) -> Path:
        return self.root / LAYOUT[1]

    def validate(self) -> None:
        missing = [part for part in LAYOUT if not (self.root / part).is_file()]
        if missing:
            raise ModelError(f"face model '{self.name}' at {self.root} lacks "
                             f"{', '.join(missing)}")


def face_files(models_dir: Path, name: str) -> FaceFiles:
    return FaceFiles(name, models_dir / "facial-recognition" / name)


def l2_rows(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


class LocalFaces(LocalModel):
    """The detector and recogniser sessions; one picture at a time per model (a lock),
    the faces of one picture in one recogniser batch."""

    def __init__(self, files: FaceFiles, settings: SessionSettings) -> None:
        files.validate()
        self.files = files
        self.detector = OnnxEncoder(files.detection, ("input.1", "input"), settings)
        self.recogniser = OnnxEncoder(files.recognition, ("input.1", "data", "input"),
                                      settings)
        self._lock = threading.Lock()
        self._identity = f"{files.name}:{_digest(files.detection, files.recognition)}"

    def load(self) -> None:
        """Open both sessions now: a broken graph shows up at start, not mid-pipeline."""
        self.detector.session()
        self.recogniser.session()

    def detect(self, rgb: NDArray[np.uint8], min_score: float) -> geometry.Detections:
        blob, scale = geometry.letterboxed_blob(rgb)
        session = self.detector.session()
        names = [o.name for o in session.get_outputs()]
        heads = session.run(names, {self.detector.input_name: blob})
        try:
            return geometry.decode([np.asarray(h, dtype=np.float32) for h in heads],
                                   min_score, scale)
        except ValueError as exc:
            raise ModelError(f"face model '{self.files.name}': {exc}") from None

    def describe(self, rgb: NDArray[np.uint8], landmarks: NDArray[np.float32]
                 ) -> NDArray[np.float32]:
        crops = [geometry.aligned(rgb, marks) for marks in landmarks]
        return l2_rows(self.recogniser.run(geometry.recogniser_blob(crops)))

    def faces(self, rgb: NDArray[np.uint8], min_score: float,
              most: int | None = None) -> tuple[list[Face], int]:
        """Only the faces kept are recognised: a crowd costs one recogniser run per face
        kept, not per face seen."""
        with self._lock:
            found = self.detect(rgb, min_score)
            boxes = found.boxes
            keep = largest(boxes, most)
            if not len(keep):
                return [], len(boxes)
            vectors = self.describe(rgb, found.landmarks[keep])
        return [Face(box=(float(b[0]), float(b[1]), float(b[2]), float(b[3])),
                     score=float(s), vector=v,
                     landmarks=tuple((float(x), float(y)) for x, y in marks))
                for b, s, v, marks in zip(boxes[keep], found.scores[keep], vectors,
                                          found.landmarks[keep], strict=True)], len(boxes)


def largest(boxes: NDArray[np.float32], most: int | None) -> NDArray[np.intp]:
    """Indices of the `most` largest boxes (all, largest first, without a bound)."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) if len(boxes) else boxes
    order = np.argsort(-area, kind="stable") if len(boxes) else np.zeros(0, dtype=np.intp)
    return order[:most] if most is not None else order


def _digest(*paths: Path) -> str:
    """Short content digest of the graphs: replaced weights are a new identity."""
    h = hashlib.blake2b(digest_size=6)
    for path in paths:
        stat = path.stat()
        h.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
        with path.open("rb") as f:
            h.update(f.read(1 << 20))
    return h.hexdigest()
