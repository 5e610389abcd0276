"""Formats beyond Pillow's own: phone HEIC/HEIF, JPEG XL and camera RAW.

* HEIC/HEIF through pillow-heif, and JPEG XL through pillow-jxl-plugin: both register
  Pillow openers, so those files take the same bounded decode path as a JPEG. AVIF is
  Pillow's own (its wheels carry libavif since 11.2).
* RAW (CR2, CR3, NEF, ARW, DNG, RAF, ORF, RW2...) through rawpy, LibRaw's binding.
  Pillow cannot open these, so `raw_image` makes a Pillow image from one: the camera's
  embedded preview JPEG when it is at least as large as what is asked for (no
  demosaicing: milliseconds, and the camera's own rendering), else a half-size
  demosaic with the camera's white balance.
"""

from __future__ import annotations

import io
import os
import stat
import threading
from pathlib import PurePath
from typing import IO, Any, BinaryIO, cast

import numpy as np
from PIL import Image, ImageOps

RAW_SUFFIXES = frozenset({".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2",
                          ".dng", ".raf", ".orf", ".rw2", ".pef", ".srw", ".x3f", ".3fr",
                          ".iiq", ".erf", ".mrw", ".kdc", ".dcr", ".mos", ".raw", ".rwl"})
PHONE_SUFFIXES = (".heic", ".heif", ".avif", ".jxl")
# LibRaw's flip codes (sizes.flip) as EXIF orientations.
FLIP_TO_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}
_registered = False
_register_lock = threading.Lock()


class RawError(ValueError):
    """A RAW file LibRaw cannot read, with LibRaw's reason."""


def register() -> None:
    """Teach Pillow the HEIF and JPEG XL openers, once per process."""
    global _registered
    with _register_lock:
        if _registered:
            return
        import pillow_heif

        pillow_heif.register_heif_opener()
        import pillow_jxl  # noqa: F401  (registering the opener is the import's effect)

        _registered = True


DEVELOPED = (".jpg", ".jpeg", ".jpe", ".heic", ".heif", ".hif")
"""What a camera writes beside its RAW file when set to both."""


def developed_twin(path: str) -> str | None:
    """For a RAW file, the JPEG or HEIF of the same name beside it (its extension in
    either case), if exactly one is a regular file: what the camera developed from the
    same exposure. A few stats, never a listing of the folder: this runs for every RAW
    decoded, in folders of thousands."""
    if not is_raw(path):
        return None
    stem = os.path.splitext(path)[0]
    found: dict[str, str] = {}  # by real path: .jpg and .JPG are one file on a case-blind disk
    for extension in DEVELOPED:
        for candidate in (stem + extension, stem + extension.upper()):
            try:
                if stat.S_ISREG(os.lstat(candidate).st_mode):
                    found.setdefault(os.path.realpath(candidate), candidate)
            except OSError:
                continue
    return next(iter(found.values())) if len(found) == 1 else None


def is_raw(path: str | bytes) -> bool:
    name = path.decode(errors="replace") if isinstance(path, bytes) else path
    return PurePath(name).suffix.lower() in RAW_SUFFIXES


def raw_size(raw: IO[bytes]) -> tuple[int, int, int]:
    """Displayed width, height and the sensor's pixel count, from LibRaw's header pass."""
    import rawpy

    raw.seek(0)
    try:
        with rawpy.imread(cast(BinaryIO, raw)) as r:
            sizes = r.sizes
            w, h = int(sizes.width), int(sizes.height)
            if sizes.flip in (5, 6):
                w, h = h, w
            return w, h, int(sizes.raw_width) * int(sizes.raw_height)
    except rawpy.LibRawError as exc:
        raise RawError(f"LibRaw cannot read it: {type(exc).__name__}: {exc}") from None


def raw_image(raw: IO[bytes], target: int | None = None) -> Image.Image:
    """An upright RGB image of a RAW file, at least `target` pixels on its short side when
    the embedded preview allows, else demosaiced at half size."""
    import rawpy

    raw.seek(0)
    try:
        with rawpy.imread(cast(BinaryIO, raw)) as r:
            preview = _preview(r, target)
            if preview is not None:
                return preview
            rgb = r.postprocess(half_size=True, use_camera_wb=True, output_bps=8)
            return Image.fromarray(np.ascontiguousarray(rgb))  # LibRaw applied the flip
    except rawpy.LibRawError as exc:
        raise RawError(f"LibRaw cannot read it: {type(exc).__name__}: {exc}") from None


def _preview(r: Any, target: int | None) -> Image.Image | None:
    import rawpy

    try:
        thumb = r.extract_thumb()
    except (rawpy.LibRawNoThumbnailError, rawpy.LibRawUnsupportedThumbnailError):
        return None
    img: Image.Image
    if thumb.format == rawpy.ThumbFormat.JPEG:
        img = Image.open(io.BytesIO(thumb.data))
        if target:
            img.draft("RGB", (target, target))
        img.load()
    else:
        img = Image.fromarray(np.ascontiguousarray(thumb.data))
    if target and min(img.size) < min(target, *_displayed(r)):
        return None  # a postage stamp: demosaic instead
    if img.getexif().get(0x0112, 1) != 1:
        return ImageOps.exif_transpose(img)
    orientation = FLIP_TO_ORIENTATION.get(int(r.sizes.flip), 1)
    if orientation != 1:
        method = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_270,
                  8: Image.Transpose.ROTATE_90}[orientation]
        img = img.transpose(method)
    return img.convert("RGB") if img.mode != "RGB" else img


def _displayed(r: Any) -> tuple[int, int]:
    return int(r.sizes.width), int(r.sizes.height)
