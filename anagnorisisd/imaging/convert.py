"""Small Pillow helpers shared by the image stages."""

from __future__ import annotations

import functools
import io

import numpy as np
from PIL import Image, ImageCms

ORIENTATION = 0x0112
TRANSPOSED_ORIENTATIONS = {5, 6, 7, 8}
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def displayed_size(img: Image.Image) -> tuple[int, int]:
    """Width and height as a viewer shows them, after the EXIF orientation."""
    orientation = img.getexif().get(ORIENTATION, 1)
    w, h = img.size
    return (h, w) if orientation in TRANSPOSED_ORIENTATIONS else (w, h)


NEUTRAL = (128, 128, 128)
"""What transparent pixels are shown on: a mid grey keeps both dark and light artwork
visible (a logo in black or in white), where white hid every white-on-clear image."""


def to_rgb(img: Image.Image) -> Image.Image:
    """Any mode (palette, alpha, CMYK, 16-bit, LA...) as sRGB: colour-managed through the
    image's ICC profile when it has one, transparency composited on neutral grey."""
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
            img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, NEUTRAL)
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        flat = canvas
    elif img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        wide = np.asarray(img, dtype=np.float32)
        unit_floats = img.mode == "F" and wide.max(initial=0) <= 1.0
        wide = wide * (255 if unit_floats else 1 / 256)
        flat = Image.fromarray(np.clip(wide, 0, 255).astype(np.uint8)).convert("RGB")
    else:
        flat = img if img.mode == "RGB" else img.convert("RGB")
    icc = img.info.get("icc_profile")
    if icc and img.mode not in ("CMYK", "I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        flat = to_srgb(flat, icc)
    return flat


def to_srgb(img: Image.Image, icc: bytes) -> Image.Image:
    """Pixels in the embedded profile's colours (Display P3 from phones, Adobe RGB from
    cameras) converted to sRGB, which browsers and CLIP's training images assume; a
    profile LittleCMS cannot use leaves the pixels as they are."""
    transform = _transform_for(icc)
    if transform is None:
        return img
    return ImageCms.applyTransform(img, transform) or img


@functools.lru_cache(maxsize=32)
def _transform_for(icc: bytes) -> ImageCms.ImageCmsTransform | None:
    """Building a transform costs milliseconds; a library has a handful of profiles."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if ImageCms.getProfileDescription(source).strip().lower().startswith("srgb"):
            return None  # already sRGB: nothing to do, and nothing to spend
        return ImageCms.buildTransform(source, SRGB, "RGB", "RGB",
                                       renderingIntent=ImageCms.Intent.PERCEPTUAL)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None
