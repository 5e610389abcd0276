"""The text stage: every line of text in a photo, with its box and scores.

OCR is the dearest stage by far (a second or two a photo on two cores), so it is a
`background` stage: the pipeline runs it only once every other stage has finished for the
library, on a low-priority thread, one photo at a time (pipeline.background). It reads a
PREVIEW-pixel view of the photo through the pipeline's one decode path, the size immich
sends its workers; detection sees that view with its short side at 736 pixels and
recognition reads each line from the view itself. A 10,000-pixel scan is read at that
size too, which bounds the work (`read_at` in the output says what was read): print
smaller than about a 150th of the page's long side is lost, and the output says so.

Boxes are stored in pixels of the upright photo at full size. A photo without text is a
result too (zero lines), and costs one detection pass only.
"""

from __future__ import annotations

from functools import partial
from typing import Any, ClassVar

import numpy as np

from anagnorisisd.ml.ocr import OCR_MODELS, WHEEL_MODEL, TextLine, TextModel
from anagnorisisd.ml.text_service import text_slot
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

PREVIEW = 1440


class TextStage(Stage):
    name: ClassVar[str] = "text"
    provides: ClassVar[tuple[str, ...]] = ("text",)
    requires: ClassVar[tuple[str, ...]] = ("meta",)
    pixels: ClassVar[PixelNeed | None] = PixelNeed(longest=PREVIEW)
    background: ClassVar[bool] = True
    config_schema: ClassVar[dict[str, Setting]] = {
        "model": Setting(str, WHEEL_MODEL, "the text model: " + ", ".join(OCR_MODELS)),
        "backend": Setting(str, "", "local or remote (immich workers, asked for immich's "
                           "PP-OCRv5_mobile when the model is the wheel's own); empty: local, "
                           "whatever [model] backend says", choices=("", "local", "remote")),
    }

    def __init__(self, config: dict[str, Any], context: StageContext | None = None) -> None:
        super().__init__(config, context)
        if context is None:
            raise ValueError("the text stage needs the daemon's configuration")
        if str(config["model"]) not in OCR_MODELS:
            raise ValueError(f"[stages.text] model: unknown text model '{config['model']}' "
                             f"(one of {', '.join(OCR_MODELS)})")
        self.models = text_slot(context.config, str(config["model"]), str(config["backend"]),
                                 retry_s=float(context.config.scheduler.model_check_s))
        self.batch_size = 1
        self.version = "unavailable"

    def ready(self) -> bool:
        """Ready with a model that can read now; without one, photos wait for it."""
        model = self.models.current()
        if model is not None:
            self.version = f"1:{model.identity}"
        return model is not None and model.available()

    def status(self) -> dict[str, Any]:
        return {"model": self.models.status(), "read_at_most_px": PREVIEW}

    def process(self, batch: list[StageInput]) -> list[StageOutput]:
        model = self.models.current()
        if model is None:
            raise StageSkip(self.models.problem or "no text model")
        return [self._one(model, item) for item in batch]

    def _one(self, model: TextModel, item: StageInput) -> StageOutput:
        scenes = scenes_of(item)  # a photo is one, at no time
        if isinstance(scenes, StageOutput):
            return scenes
        view = scenes[0][1]
        found: list[tuple[TextLine, float | None]] = []
        said: set[str] = set()
        for at, picture in scenes:  # a video's scenes: a caption kept through them, once
            lines = model_answer(partial(model.read, np.asarray(picture.convert("RGB"))))
            if isinstance(lines, StageOutput):
                return lines
            fresh = [line for line in lines if line.text.casefold() not in said]
            said.update(line.text.casefold() for line in fresh)
            found += [(line, at) for line in fresh]
        meta = item.inputs.get("meta", {})
        full = (int(meta.get("width") or view.width), int(meta.get("height") or view.height))
        return StageOutput.ok(record(found, view.size, full, model.identity))

    def close(self) -> None:
        self.models.close()


def record(lines: list[tuple[TextLine, float | None]], view: tuple[int, int],
           full: tuple[int, int], identity: str) -> dict[str, Any]:
    """What is stored: each line in full-size upright pixels, and the size it was read at;
    a line read in a video's scene has the second of its scene (`at_s`)."""
    sx, sy = full[0] / max(1, view[0]), full[1] / max(1, view[1])
    out = []
    for line, at in lines:
        quad = [round(v * (sx if i % 2 == 0 else sy), 1) for i, v in enumerate(line.quad)]
        x1, y1, x2, y2 = line.box
        out.append({"text": line.text,
                    "box": [round(x1 * sx, 1), round(y1 * sy, 1), round(x2 * sx, 1),
                            round(y2 * sy, 1)],
                    "quad": quad, "score": line.text_score, "box_score": line.box_score,
                    **({"at_s": round(at, 3)} if at is not None else {})})
    return {"model": identity, "width": full[0], "height": full[1],
            "read_at": [view[0], view[1]], "lines": out}
