"""Small Pillow helpers shared by the image stages."""

from __future__ import annotations

import datetime as dt

import numpy as np
from PIL import Image

ORIENTATION = 0x0112
DATETIME = 0x0132
EXIF_IFD = 0x8769
DATETIME_ORIGINAL = 0x9003
TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}


def displayed_size(img: Image.Image) -> tuple[int, int]:
    """Width and height as a viewer shows them, after the EXIF orientation."""
    orientation = img.getexif().get(ORIENTATION, 1)
    w, h = img.size
    return (h, w) if orientation in TRANSPOSED_ORIENTATIONS else (w, h)


def capture_time(img: Image.Image) -> str | None:
    """EXIF DateTimeOriginal (else DateTime) as ISO 8601, or None if absent or garbled."""
    exif = img.getexif()
    raw = exif.get_ifd(EXIF_IFD).get(DATETIME_ORIGINAL) or exif.get(DATETIME)
    if not isinstance(raw, str):
        return None
    try:
        return dt.datetime.strptime(raw.strip("\x00 "), "%Y:%m:%d %H:%M:%S").isoformat()
    except ValueError:
        return None


def to_rgb(img: Image.Image) -> Image.Image:
    """Flatten any mode (palette, alpha, CMYK, 16-bit, LA...) to RGB on white."""
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        wide = np.asarray(img, dtype=np.float32)
        unit_floats = img.mode == "F" and wide.max(initial=0) <= 1.0
        wide = wide * (255 if unit_floats else 1 / 256)
        return Image.fromarray(np.clip(wide, 0, 255).astype(np.uint8)).convert("RGB")
    return img.convert("RGB")


