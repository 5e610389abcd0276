"""The face_quality stage: for every face the faces stage found, are the eyes open, is the
face in focus, is the head turned to the camera (imaging/face_signals.py).

It reads the same 1,440-pixel view of the pipeline's one decode as the faces stage, so it
costs no decode of its own, and dlib's 68-point landmarks (ml/face_landmarks.py, from the
installed `face-recognition-models`). Faces marked small by the faces stage get their focus
measured but their eyes left "unknown": 68 points on a face 30 pixels across are guesses.
The output keeps the faces stage's order, so face i here is face i there.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from anagnorisisd.imaging.face_signals import FaceSignals, read_face
from anagnorisisd.ml.face_geometry import FACE_VIEW
from anagnorisisd.ml.face_landmarks import FaceLandmarks, load
from anagnorisisd.pipeline.per_file import each_file
from anagnorisisd.stage import PixelNeed, Setting, Stage, StageContext, StageInput, StageOutput


class FaceQualityStage(Stage):
    name: ClassVar[str] = "face_quality"
    provides: ClassVar[tuple[str, ...]] = ("face_quality",)
    requires: ClassVar[tuple[str, ...]] = ("faces",)
    pixels: ClassVar[PixelNeed | None] = PixelNeed(longest=FACE_VIEW)
    version = "1:dlib-68"
    config_schema: ClassVar[dict[str, Setting]] = {}

    def __init__(self, config: dict[str, Any], context: StageContext | None = None) -> None:
        super().__init__(config, context)
        self.batch_size = 8
        self.landmarks: FaceLandmarks | None = load()

    def ready(self) -> bool:
        """Ready while the landmark model is installed (it is a dependency: always, unless
        the install is broken)."""
        return self.landmarks is not None

    def status(self) -> dict[str, Any]:
        return {"landmarks": "dlib 68-point" if self.landmarks else
                "missing: pip install face-recognition-models"}

    def process(self, batch: list[StageInput]) -> list[StageOutput]:
        return each_file(batch, self.measure, "cannot decode")

    def measure(self, item: StageInput) -> dict[str, Any]:
        found = item.inputs.get("faces") or {}
        faces = found.get("faces") or []
        if not faces:
            return summary([])
        view = item.pixels()
        rgb = np.asarray(view)
        sx = view.width / max(1, int(found.get("width") or view.width))
        sy = view.height / max(1, int(found.get("height") or view.height))
        signals = []
        for face in faces:
            x1, y1, x2, y2 = (float(v) for v in face["box"])
            box = (x1 * sx, y1 * sy, x2 * sx, y2 * sy)
            points = None
            if not face.get("small") and self.landmarks is not None:
                points = self.landmarks.points(rgb, box)
            signals.append(read_face(rgb, box, points))
        return summary(signals)


def summary(signals: list[FaceSignals]) -> dict[str, Any]:
    """Per face, and for the photo: how many faces have their eyes shut, how many are
    blurred, and the least sharp face (what a keeper is chosen on)."""
    return {"faces": [s.as_record() for s in signals],
            "eyes_closed": sum(s.eyes == "closed" for s in signals),
            "eyes_open": sum(s.eyes == "open" for s in signals),
            "blurry": sum(s.blurry for s in signals),
            "least_sharp": min((s.sharpness for s in signals), default=None)}
