"""The colour stage: each photo's dominant colours, from the pixels the pipeline decodes
once for every stage (a 64-pixel view: no decode of its own), as a few swatches with the
share of the picture each covers and its basic name."""

from __future__ import annotations

from typing import ClassVar

from PIL import Image

from anagnorisisd.stage import PixelNeed, Setting, Stage, StageInput, StageOutput
from anagnorisisd_colour.names import name_of

SIDE = 64


class ColourStage(Stage):
    name: ClassVar[str] = "colour"
    version = "1"
    requires: ClassVar[tuple[str, ...]] = ("meta",)  # only photos Pillow could read
    pixels: ClassVar[PixelNeed | None] = PixelNeed(longest=SIDE)
    config_schema: ClassVar[dict[str, Setting]] = {
        "colours": Setting(int, 3, "dominant colours kept per photo", 1, 8),
        "least_share": Setting(float, 0.08, "the least share of the picture a colour kept "
                               "covers", 0.0, 1.0),
    }

    def process(self, batch: list[StageInput]) -> list[StageOutput]:
        out = []
        for item in batch:
            try:
                view = item.pixels().convert("RGB")
            except FileNotFoundError:
                out.append(StageOutput.later("the file vanished while it was read"))
                continue
            except Exception as exc:  # this file's problem, with its reason
                out.append(StageOutput.fail(f"cannot read its colours: {exc}"))
                continue
            out.append(StageOutput.ok({"colours": self.dominant(view)}))
        return out

    def dominant(self, view: Image.Image) -> list[dict[str, object]]:
        """The picture's colours by the share they cover, largest first (median cut)."""
        small = view.copy()
        small.thumbnail((SIDE, SIDE))
        quantized = small.quantize(colors=8, method=Image.Quantize.MEDIANCUT)
        palette = quantized.getpalette() or []
        counts = sorted(quantized.getcolors() or [], reverse=True)
        total = sum(n for n, _ in counts) or 1
        kept = []
        for n, index in counts:
            share = n / total
            if share < float(self.config["least_share"]):
                continue
            rgb = (palette[3 * index], palette[3 * index + 1], palette[3 * index + 2])
            kept.append({"hex": "#{:02x}{:02x}{:02x}".format(*rgb), "share": round(share, 3),
                         "name": name_of(rgb)})
            if len(kept) >= int(self.config["colours"]):
                break
        return kept
