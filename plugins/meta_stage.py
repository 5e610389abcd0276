"""The metadata stage: what the sort and filter modes need, read from headers only."""

from __future__ import annotations

import os
from typing import Any, ClassVar

from PIL import UnidentifiedImageError

from anagnorisisd.imaging.convert import capture_time, displayed_size
from anagnorisisd.imaging.decoding import ImageTooLarge, Limits, open_header
from anagnorisisd.ingest.safe_io import UnreadableFile, open_regular
from anagnorisisd.stage import Stage, StageContext, StageInput, StageOutput


def read_meta(path: str) -> dict[str, Any]:
    """Format, displayed size, file size and capture time, without decoding pixels.

    Pillow's ``open`` parses only the header; pixels are decoded on ``load``,
    which this never calls.
    """
    with open_regular(path, Limits.max_file_bytes) as raw, open_header(raw) as img:
        width, height = displayed_size(img)
        return {
            "format": (img.format or "").lower(),
            "width": width,
            "height": height,
            "file_size": os.fstat(raw.fileno()).st_size,
            "taken_at": capture_time(img),
            "frames": int(getattr(img, "n_frames", 1)),
        }


class MetaStage(Stage):
    name: ClassVar[str] = "meta"
    provides: ClassVar[tuple[str, ...]] = ("metadata",)
    version = "1"

    def __init__(self, config: dict[str, Any], context: StageContext | None = None) -> None:
        super().__init__(config, context)
        self.batch_size = 64

    def process(self, batch: list[StageInput]) -> list[StageOutput]:
        out = []
        for item in batch:
            try:
                out.append(StageOutput.ok(read_meta(item.path)))
            except UnidentifiedImageError:
                out.append(StageOutput.fail("not an image Pillow can read"))
            except (UnreadableFile, ImageTooLarge) as exc:
                out.append(StageOutput.fail(str(exc)))
            except FileNotFoundError:
                out.append(StageOutput.later("the file vanished while it was read"))
            except Exception as exc:  # any parser error is this file's, said with its reason
                out.append(StageOutput.fail(f"unreadable header: {type(exc).__name__}: {exc}"))
        return out
