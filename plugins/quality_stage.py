"""The quality stage: how sharp each photo is, measured once, at thumbnail scale.

Sharpness decides between shots of a burst when the person's taste does not (the same
rating, the same prediction): the one with the least blur and camera shake. The measure
is the variance of the Laplacian of the grey image (Pech-Pacheco et al., 2000), taken on
a 256-pixel view of the pipeline's one decode of the photo (``PixelNeed``), so it costs
no decode of its own.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from PIL import Image

from anagnorisisd.pipeline.per_file import each_file
from anagnorisisd.stage import PixelNeed, Setting, Stage, StageContext, StageInput, StageOutput

MEASURE_SIZE = 256
"""Sharpness is measured on the picture scaled to this longest side, whatever the thumbnail
size, so values compare across the library."""


def sharpness(img: Image.Image) -> float:
    """Variance of the 4-neighbour Laplacian of the grey picture, on a 0-255 scale."""
    grey = img.convert("L")
    if max(grey.size) > MEASURE_SIZE:
        grey.thumbnail((MEASURE_SIZE, MEASURE_SIZE), Image.Resampling.BOX)
    a = np.asarray(grey, dtype=np.float32)
    if a.shape[0] < 3 or a.shape[1] < 3:
        return 0.0
    lap = (a[1:-1, :-2] + a[1:-1, 2:] + a[:-2, 1:-1] + a[2:, 1:-1]) - 4 * a[1:-1, 1:-1]
    return round(float(lap.var()), 2)


class QualityStage(Stage):
    name: ClassVar[str] = "quality"
    provides: ClassVar[tuple[str, ...]] = ("quality",)
    version = "2"  # 2: measured on a view of the shared decode, not on the thumbnail
    pixels: ClassVar[PixelNeed | None] = PixelNeed(longest=MEASURE_SIZE)
    config_schema: ClassVar[dict[str, Setting]] = {}

    def __init__(self, config: dict[str, Any], context: StageContext | None = None) -> None:
        super().__init__(config, context)
        self.batch_size = 32

    def process(self, batch: list[StageInput]) -> list[StageOutput]:
        return each_file(batch, measure, "cannot decode")


def measure(item: StageInput) -> dict[str, Any]:
    """Sharpness of the photo's 256-pixel view."""
    return {"sharpness": sharpness(item.pixels())}
