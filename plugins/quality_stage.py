"""The quality stage: how sharp each photo is, measured once, at thumbnail scale.

Sharpness decides between shots of a burst when the person's taste does not (the same
rating, the same prediction): the one with the least blur and camera shake. The measure
is the variance of the Laplacian of the grey image (Pech-Pacheco et al., 2000), taken on
the thumbnail-sized picture the thumbnail stage hands on (``THUMBNAIL_IMAGE``), so it
costs no decode of its own; only photos whose thumbnails were made before this stage
existed are decoded here, once, at thumbnail scale.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from PIL import Image

from anagnorisisd.imaging.convert import to_rgb
from anagnorisisd.imaging.decoding import decoded
from anagnorisisd.stage import Setting, Stage, StageContext, StageInput, StageOutput

from .per_file import each_file
from .thumbnail_stage import THUMBNAIL_IMAGE

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
    version = "1"
    config_schema: ClassVar[dict[str, Setting]] = {}

    def __init__(self, config: dict[str, Any], context: StageContext | None = None) -> None:
        super().__init__(config, context)
        self.batch_size = 32

    def process(self, batch: list[StageInput]) -> list[StageOutput]:
        return each_file(batch, measure, "cannot decode")


def measure(item: StageInput) -> dict[str, Any]:
    """Sharpness of the carried thumbnail, or of a thumbnail-scale decode without one."""
    picture = item.carried.get(THUMBNAIL_IMAGE)
    if picture is not None:
        return {"sharpness": sharpness(picture)}
    with decoded(item.path, MEASURE_SIZE) as full:
        return {"sharpness": sharpness(to_rgb(full))}
