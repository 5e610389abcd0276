"""The thumbnail stage: small images so the grid never downloads full-size files."""

from __future__ import annotations

import io
from typing import Any, ClassVar

from PIL import Image

from anagnorisisd.imaging.convert import to_rgb
from anagnorisisd.imaging.decoding import decoded
from anagnorisisd.stage import Setting, Stage, StageContext, StageInput, StageOutput

from .per_file import each_file

FORMATS = {"webp": ("WEBP", "image/webp"), "jpeg": ("JPEG", "image/jpeg")}


def make_thumbnail(path: str, size: int, fmt: str, quality: int) -> dict[str, Any]:
    with decoded(path, size) as full:
        img = to_rgb(full)
        img.thumbnail((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    pil_format, mime = FORMATS[fmt]
    buf = io.BytesIO()
    options: dict[str, Any] = {"quality": quality}
    if pil_format == "WEBP":
        options["method"] = 0  # fastest encoder effort; the size difference is small
    img.save(buf, pil_format, **options)
    return {"mime": mime, "data": buf.getvalue(), "width": img.width, "height": img.height}


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

    def process(self, batch: list[StageInput]) -> list[StageOutput]:
        return each_file(batch, lambda path: make_thumbnail(path, self.size, self.format,
                                                            self.quality), "cannot decode")
