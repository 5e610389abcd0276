"""The thumbnail stage: small images so the grid never downloads full-size files.

Its pixels are a view of the pipeline's one decode of each photo (``PixelNeed``), at the
configured size: the decode that serves it serves the embedding and every other stage
that reads pixels too.
"""

from __future__ import annotations

import io
from typing import Any, ClassVar

from PIL import Image

from anagnorisisd.pipeline.per_file import each_file
from anagnorisisd.pipeline.pixels import FilePixels
from anagnorisisd.stage import PixelNeed, Setting, Stage, StageContext, StageInput, StageOutput

FORMATS = {"webp": ("WEBP", "image/webp"), "jpeg": ("JPEG", "image/jpeg")}


def encode(img: Image.Image, fmt: str, quality: int) -> dict[str, Any]:
    pil_format, mime = FORMATS[fmt]
    buf = io.BytesIO()
    options: dict[str, Any] = {"quality": quality}
    if pil_format == "WEBP":
        options["method"] = 0  # fastest encoder effort; the size difference is small
    img.save(buf, pil_format, **options)
    return {"mime": mime, "data": buf.getvalue(), "width": img.width, "height": img.height}


def thumbnail_of(path: str, size: int, fmt: str = "jpeg", quality: int = 85) -> dict[str, Any]:
    """One file's thumbnail outside the pipeline (tools, tests, benchmarks): the same
    view of the same decode path, and the same encoding."""
    return encode(FilePixels(path, list).view(PixelNeed(longest=size)), fmt, quality)


class ThumbnailStage(Stage):
    name: ClassVar[str] = "thumbnail"
    provides: ClassVar[tuple[str, ...]] = ("thumbnail",)
    config_schema: ClassVar[dict[str, Setting]] = {
        "size": Setting(int, 320, "longest side in pixels", 16, 2048),
        "format": Setting(str, "jpeg", "thumbnail encoding", choices=tuple(FORMATS)),
        "quality": Setting(int, 85, "encoder quality", 1, 100),
        "workers": Setting(int, 2, "images decoded in parallel", 1, 64),
    }

    def __init__(self, config: dict[str, Any], context: StageContext | None = None) -> None:
        super().__init__(config, context)
        self.size = int(config["size"])
        self.format = str(config["format"])
        self.quality = int(config["quality"])
        self.workers = int(config["workers"])
        self.batch_size = 8
        # Size and format are part of what the output *is*, so they are part of the version.
        self.version = f"1:{self.size}:{self.format}:{self.quality}"

    def pixel_need(self) -> PixelNeed:
        return PixelNeed(longest=self.size)

    def process(self, batch: list[StageInput]) -> list[StageOutput]:
        return each_file(batch, lambda item: encode(item.pixels(), self.format, self.quality),
                         "cannot decode")
