"""The quality stage: how sharp and how bright each photo is, measured once, at 256 px.

Sharpness decides between shots of a burst when the person's taste does not (the same
rating, the same prediction): the one with the least blur and camera shake. The measure
is the variance of the Laplacian of the grey image (Pech-Pacheco et al., 2000).

Exposure is measured in stops: log2 of the mean linear-light luminance over 18 % grey,
with the shares of pixels crushed to black and blown to white. Between shots of one stack
a difference in stops is an exposure fault ("1.5 stops darker than the shots around
it"); alone, a photo is called under- or over-exposed only past wide bounds, since night
scenes are dark and snow is bright. A misfire (nearly black, nearly uniform, or blurred
throughout) is named, for culling to put last.

Both are taken on a 256-pixel view of the pipeline's one decode of the photo
(``PixelNeed``), so they cost no decode of their own.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from anagnorisisd.pipeline.per_file import each_file
from anagnorisisd.stage import PixelNeed, Setting, Stage, StageContext, StageInput, StageOutput

MEASURE_SIZE = 256
"""Sharpness is measured on the picture scaled to this longest side, whatever the thumbnail
size, so values compare across the library."""


MID_GREY = 0.18
"""Linear-light reflectance of a photographer's mid-grey card: 0 stops."""
LINEAR = np.where(np.arange(256) <= 10, np.arange(256) / 255 / 12.92,
                  ((np.arange(256) / 255 + 0.055) / 1.055) ** 2.4)
"""sRGB code value to linear light (IEC 61966-2-1)."""
BLACK_AT, WHITE_AT = 10, 245
"""Grey levels at or below / at or above which a pixel counts as crushed / blown."""
BLACK_SHARE, UNIFORM_SPREAD, BLURRED_BELOW = 0.97, 3.0, 5.0
"""Misfires: this share of pixels crushed; a grey spread (standard deviation, 0-255)
under this; a sharpness under this at 256 px (a Gaussian blur of 8 px on a 512-px photo
measures 2-4; sharp photos measure hundreds)."""


def _grey(img: Image.Image) -> NDArray[np.uint8]:
    grey = img.convert("L")
    if max(grey.size) > MEASURE_SIZE:
        grey.thumbnail((MEASURE_SIZE, MEASURE_SIZE), Image.Resampling.BOX)
    return np.asarray(grey, dtype=np.uint8)


def sharpness(img: Image.Image) -> float:
    """Variance of the 4-neighbour Laplacian of the grey picture, on a 0-255 scale."""
    return _laplacian_variance(_grey(img))


def _laplacian_variance(grey: NDArray[np.uint8]) -> float:
    a = grey.astype(np.float32)
    if a.shape[0] < 3 or a.shape[1] < 3:
        return 0.0
    lap = (a[1:-1, :-2] + a[1:-1, 2:] + a[:-2, 1:-1] + a[2:, 1:-1]) - 4 * a[1:-1, 1:-1]
    return round(float(lap.var()), 2)


def exposure(grey: NDArray[np.uint8]) -> dict[str, float]:
    """Stops from mid-grey, and the shares of crushed and blown pixels."""
    mean = float(LINEAR[grey].mean()) if grey.size else 0.0
    return {"stops": round(float(np.log2(max(mean, 1e-4) / MID_GREY)), 2),
            "dark": round(float((grey <= BLACK_AT).mean()), 3) if grey.size else 0.0,
            "bright": round(float((grey >= WHITE_AT).mean()), 3) if grey.size else 0.0}


def misfire(grey: NDArray[np.uint8], dark: float, sharp: float) -> str | None:
    """What makes the shot a misfire, in words, or None."""
    if dark >= BLACK_SHARE:
        return "nearly black"
    if grey.size and float(grey.std()) < UNIFORM_SPREAD:
        return "nearly uniform"
    if sharp < BLURRED_BELOW:
        return "blurred throughout"
    return None


class QualityStage(Stage):
    name: ClassVar[str] = "quality"
    provides: ClassVar[tuple[str, ...]] = ("quality",)
    version = "3"  # 3: exposure and misfires; 2: on a view of the shared decode
    pixels: ClassVar[PixelNeed | None] = PixelNeed(longest=MEASURE_SIZE)
    config_schema: ClassVar[dict[str, Setting]] = {}

    def __init__(self, config: dict[str, Any], context: StageContext | None = None) -> None:
        super().__init__(config, context)
        self.batch_size = 32

    def process(self, batch: list[StageInput]) -> list[StageOutput]:
        return each_file(batch, measure, "cannot decode")


def measure(item: StageInput) -> dict[str, Any]:
    """Sharpness, exposure and misfire of the photo's 256-pixel view."""
    grey = _grey(item.pixels())
    sharp = _laplacian_variance(grey)
    light = exposure(grey)
    return {"sharpness": sharp, **light, "misfire": misfire(grey, light["dark"], sharp)}
