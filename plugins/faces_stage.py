"""The faces stage: every face in a photo, with its box, landmarks, score and vector.

Like immich, detection looks at a preview (PREVIEW px on the longest side, a view of the
pipeline's one decode), not at the 224-pixel CLIP input: faces in a group photo are a few
dozen pixels there. Boxes and landmarks are stored in pixels of the upright photo at full
size, so they land on the face whatever size it is shown at. A photo without faces is a
result too (zero faces). The model is immich's (local ONNX or workers, ml.face_service);
its identity is the stage version, so another model redoes every photo.

Bounds: at most `max_faces` faces are kept per photo, the largest first (a crowd says how
many more there were); faces smaller than `min_face_px` in the preview are kept as found
but marked `small` and left out of people, since recognition is unreliable at that size.
"""

from __future__ import annotations

from functools import partial
from typing import Any, ClassVar

import numpy as np

from anagnorisisd.ml.face_geometry import FACE_VIEW
from anagnorisisd.ml.face_service import face_slot
from anagnorisisd.ml.face_thresholds import same_person
from anagnorisisd.ml.faces import Face, FaceModel
from anagnorisisd.pipeline.per_file import model_answer, scenes_of
from anagnorisisd.stage import (
    PixelNeed,
    Setting,
    Stage,
    StageContext,
    StageInput,
    StageOutput,
    StageSkip,
)

PREVIEW = FACE_VIEW


class FacesStage(Stage):
    name: ClassVar[str] = "faces"
    provides: ClassVar[tuple[str, ...]] = ("faces",)
    requires: ClassVar[tuple[str, ...]] = ("meta",)
    pixels: ClassVar[PixelNeed | None] = PixelNeed(longest=PREVIEW)
    config_schema: ClassVar[dict[str, Setting]] = {
        "model": Setting(str, "auto", "auto (immich's buffalo_l where installed, else "
                         "dlib's, which installs with anagnorisisd), dlib, or immich's "
                         "buffalo_s, buffalo_m, buffalo_l, antelopev2"),
        "backend": Setting(str, "", "local or remote; empty: as [model] backend",
                           choices=("", "local", "remote")),
        "min_score": Setting(float, 0.7, "least detection score kept", 0.05, 1.0),
        "max_faces": Setting(int, 50, "faces kept per photo, the largest first", 1, 1000),
        "min_face_px": Setting(int, 32, "faces smaller than this in the preview are not "
                               "grouped into people", 0, 1000),
    }

    def __init__(self, config: dict[str, Any], context: StageContext | None = None) -> None:
        super().__init__(config, context)
        if context is None:
            raise ValueError("the faces stage needs the daemon's configuration")
        self.models = face_slot(context.config, str(config["model"]), str(config["backend"]),
                                 retry_s=float(context.config.scheduler.model_check_s))
        self.min_score = float(config["min_score"])
        self.max_faces = int(config["max_faces"])
        self.min_face_px = int(config["min_face_px"])
        self.batch_size = 8
        self.version = "unavailable"

    def ready(self) -> bool:
        """Ready with a model that can answer now. Without one (none installed, every
        worker refusing it) photos pass this stage by and finish their trip; the runner
        queues them again when this turns true."""
        model = self.models.current()
        if model is not None:
            self.version = f"1:{model.identity}"
        return model is not None and model.available()

    def status(self) -> dict[str, Any]:
        return {"model": self.models.status()}

    def process(self, batch: list[StageInput]) -> list[StageOutput]:
        model = self.models.current()
        if model is None:
            raise StageSkip(self.models.problem or "no face model")
        return [self._one(model, item) for item in batch]

    def _one(self, model: FaceModel, item: StageInput) -> StageOutput:
        scenes = scenes_of(item)  # a photo is one, at no time
        if isinstance(scenes, StageOutput):
            return scenes
        view = scenes[0][1]
        found: list[tuple[Face, float | None]] = []
        seen = 0
        for at, picture in scenes:
            answer = model_answer(partial(model.faces, np.asarray(picture), self.min_score,
                                          self.max_faces))
            if isinstance(answer, StageOutput):
                return answer
            faces, count = answer
            fresh = [f for f in faces if not any(same_person(f.vector, k.vector)
                                                 for k, _ in found)]
            seen += count - (len(faces) - len(fresh))
            found += [(face, at) for face in fresh][: self.max_faces - len(found)]
        meta = item.inputs.get("meta", {})
        width = int(meta.get("width") or view.width)
        height = int(meta.get("height") or view.height)
        return StageOutput.ok(self.record(found, seen, view.size, (width, height),
                                          model.identity))

    def record(self, found: list[tuple[Face, float | None]], seen: int,
               view: tuple[int, int], full: tuple[int, int], identity: str
               ) -> dict[str, Any]:
        """What is stored: the faces kept (the largest first, at most max_faces) in
        full-size upright pixels, and how many more there were. A video's faces are its
        scenes', each with the second of its scene (`at_s`), a person seen in several
        scenes once (the first time)."""
        sx, sy = full[0] / max(1, view[0]), full[1] / max(1, view[1])
        faces = []
        for face, at in found:
            x1, y1 = max(0.0, face.box[0]), max(0.0, face.box[1])
            x2, y2 = min(float(view[0]), face.box[2]), min(float(view[1]), face.box[3])
            side = min(x2 - x1, y2 - y1)
            faces.append({
                "box": [round(x1 * sx, 1), round(y1 * sy, 1), round(x2 * sx, 1),
                        round(y2 * sy, 1)],
                "score": round(face.score, 4),
                "landmarks": [[round(x * sx, 1), round(y * sy, 1)] for x, y in face.landmarks]
                if face.landmarks else None,
                "small": side < self.min_face_px,
                "vector": face.vector.astype(np.float16).tobytes(),
                **({"at_s": round(at, 3)} if at is not None else {}),
            })
        dims = {len(f.vector) for f, _ in found}
        return {"model": identity, "width": full[0], "height": full[1], "faces": faces,
                "dim": dims.pop() if len(dims) == 1 else None,
                "more": max(0, seen - len(found))}

    def close(self) -> None:
        self.models.close()
