"""The thumbnail stage: small images so the grid never downloads full-size files.

It is also where each photo is decoded for the model. The decode that makes the
thumbnail is done at the size both need (`Preprocessor.decode_target`), and the
model's resized, cropped input is handed on to the embedding stage in memory
(`StageOutput.carry`), never stored: one decode per photo on first indexing. The
embedding stage decodes for itself only what arrives without it (a model installed
after the thumbnails were made, a model switch).
"""

from __future__ import annotations

import io
from typing import Any, ClassVar

from PIL import Image

from anagnorisisd.imaging.convert import to_rgb
from anagnorisisd.imaging.decoding import decoded
from anagnorisisd.ml.preprocess import MODEL_INPUT
from anagnorisisd.ml.service import EmbeddingModel
from anagnorisisd.stage import Setting, Stage, StageContext, StageInput, StageOutput

from .per_file import each_file

THUMBNAIL_IMAGE = "thumbnail_image"
"""The carry key under which the thumbnail itself (an RGB image) is handed on, for stages
that judge a photo at thumbnail scale (sharpness) without decoding it again."""
FORMATS = {"webp": ("WEBP", "image/webp"), "jpeg": ("JPEG", "image/jpeg")}


def encode(img: Image.Image, fmt: str, quality: int) -> dict[str, Any]:
    pil_format, mime = FORMATS[fmt]
    buf = io.BytesIO()
    options: dict[str, Any] = {"quality": quality}
    if pil_format == "WEBP":
        options["method"] = 0  # fastest encoder effort; the size difference is small
    img.save(buf, pil_format, **options)
    return {"mime": mime, "data": buf.getvalue(), "width": img.width, "height": img.height}


def make_thumbnail(path: str, size: int, fmt: str, quality: int,
                   model: EmbeddingModel | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The thumbnail's output, and what to carry on: the thumbnail picture and, when a
    model is given, the model's input."""
    target = model.preprocess.decode_target(size) if model is not None else size
    carry: dict[str, Any] = {}
    with decoded(path, target) as full:
        img = to_rgb(full)
        if model is not None:
            carry[MODEL_INPUT] = {"model": model.identity,
                                  "pixels": model.preprocess.resize(img)}
        # Box (area) averaging: antialiased like bilinear at these factors, and a third
        # cheaper, which counts when the decode itself is only about 6 ms.
        img.thumbnail((size, size), Image.Resampling.BOX, reducing_gap=2.0)
    carry[THUMBNAIL_IMAGE] = img
    return encode(img, fmt, quality), carry


class ThumbnailStage(Stage):
    name: ClassVar[str] = "thumbnail"
    provides: ClassVar[tuple[str, ...]] = ("thumbnail",)
    config_schema: ClassVar[dict[str, Setting]] = {
        "size": Setting(int, 320, "longest side in pixels", 16, 2048),
        "format": Setting(str, "jpeg", "thumbnail encoding", choices=tuple(FORMATS)),
        "quality": Setting(int, 85, "encoder quality", 1, 100),
        "workers": Setting(int, 2, "images decoded in parallel", 1, 64),
        "share_decode": Setting(bool, True, "hand the model its input from this decode"),
    }

    def __init__(self, config: dict[str, Any], context: StageContext | None = None) -> None:
        super().__init__(config, context)
        self.size = int(config["size"])
        self.format = str(config["format"])
        self.quality = int(config["quality"])
        self.workers = int(config["workers"])
        self.share_decode = bool(config["share_decode"])
        self.batch_size = 8
        # Size and format are part of what the output *is*, so they are part of the version.
        self.version = f"1:{self.size}:{self.format}:{self.quality}"

    def _model(self) -> EmbeddingModel | None:
        """The loaded model whose input to carry, if any: the file is decoded here anyway."""
        models = self.context.models if self.context is not None else None
        return models.maybe_model() if self.share_decode and models is not None else None

    def process(self, batch: list[StageInput]) -> list[StageOutput]:
        model = self._model()
        return each_file(batch, lambda item: make_thumbnail(item.path, self.size, self.format,
                                                            self.quality, model),
                         "cannot decode")
