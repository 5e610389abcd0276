"""An example stage: the mean brightness of each image, from 0 (black) to 1 (white).

Everything a stage needs is in docs/plugins.md; this file uses only what is documented
there: the contract (anagnorisisd.stage), the pixels the pipeline decodes once for every
stage (``PixelNeed``, ``StageInput.pixels()``), and a typed config schema. It costs no
decode of its own.
"""

from __future__ import annotations

from typing import Any, ClassVar

from PIL import ImageStat

from anagnorisisd.stage import PixelNeed, Setting, Stage, StageInput, StageOutput


class BrightnessStage(Stage):
    name: ClassVar[str] = "brightness"
    version = "1"
    requires: ClassVar[tuple[str, ...]] = ("meta",)  # only images Pillow could read
    config_schema: ClassVar[dict[str, Setting]] = {
        "size": Setting(int, 64, "pixels on the short side to measure at", 8, 1024),
    }

    def pixel_need(self) -> PixelNeed:
        return PixelNeed(shortest=int(self.config["size"]))

    def process(self, batch: list[StageInput]) -> list[StageOutput]:
        size = int(self.config["size"])
        out = []
        for item in batch:
            try:
                grey = item.pixels().convert("L")
                grey.thumbnail((size, size))
                mean = ImageStat.Stat(grey).mean[0] / 255
            except FileNotFoundError:
                out.append(StageOutput.later("the file vanished while it was read"))
                continue
            except Exception as exc:  # this file's problem, with its reason
                out.append(StageOutput.fail(f"cannot measure: {type(exc).__name__}: {exc}"))
                continue
            summary: dict[str, Any] = {"brightness": round(mean, 4), "format": item.inputs[
                "meta"].get("format")}
            out.append(StageOutput.ok(summary))
        return out
