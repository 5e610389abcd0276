"""The one way an image is decoded: bounded in pixels, in bytes, and in how many at once.

A 164 KB PNG can declare 13000 x 13000 pixels and cost 0.9 GB to open, and
four uploads of it at once cost 3.6 GB. So every decode, by a stage or for an
upload:

1. reads the header only and refuses an image above ``max_pixels`` (a failure
   with its reason, never a decode);
2. asks libjpeg for a reduced-size decode when the caller needs less (JPEG
   draft mode), which is also most of the speed of making thumbnails;
3. waits for its share of a pixel budget shared by the whole process before
   the pixels are decoded, and holds it while the caller shrinks the image.

Decoding memory therefore stays under about 8 bytes per pixel of the budget
(the decoded image, plus the upright copy EXIF orientation may need), however
many decodes are asked for at once.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from PIL import Image, ImageOps, UnidentifiedImageError

from anagnorisisd.imaging import formats
from anagnorisisd.imaging.budget import (
    DecodeBudget,
    ImageTooLarge,
    Limits,
    check_size,
    draft_box,
)
from anagnorisisd.imaging.video import VideoRefused, is_video
from anagnorisisd.ingest.safe_io import UnreadableFile, open_regular

ORIENTATION = 0x0112
PIXEL_BOUNDED = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF", "HEIF", "AVIF",
                           "JXL"})
"""Formats whose decoders use memory in proportion to the pixels their header declares. Any
other decoder (BLP, DDS, ICNS, PSD, FLI...) has been seen to allocate 650 MB for a file that
declares a few thousand pixels (Pillow's fuzzed test files), so it takes the whole budget
and decodes alone: rare formats wait, memory stays bounded."""


def open_header(raw: IO[bytes]) -> Image.Image:
    """Image.open (headers only), with the pixel limit applied, as ImageTooLarge."""
    formats.register()
    try:
        img = Image.open(raw)
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"declares more pixels than twice the "
                            f"{Limits.max_pixels / 1e6:.0f} MP limit ([limits] max_pixels)"
                            ) from None
    try:
        check_size(*img.size)
    except ImageTooLarge:
        img.close()
        raise
    return img


def configure(max_pixels: int, budget_pixels: int, max_file_bytes: int) -> None:
    Limits.max_pixels = max_pixels
    Limits.max_file_bytes = max_file_bytes
    Limits.budget = DecodeBudget(budget_pixels)
    # Pillow's own guard, for code paths that open images without us; it raises at twice
    # this, and only warns below, so it sits at our limit.
    Image.MAX_IMAGE_PIXELS = max_pixels


@contextmanager
def decoded(source: str | bytes, target: int | None = None,
            longest: int | None = None) -> Iterator[Image.Image]:
    """The image at a path (or in bytes), decoded, first frame, EXIF-upright; for a video,
    its poster frame (imaging.video_frames), upright.

    With `target`, a JPEG is decoded at the smallest libjpeg scale whose sides are
    still at least `target`; with `longest`, whose longest side is at least that. The
    pixels are held against the decode budget until the with-block ends: shrink the image
    inside it.
    """
    if isinstance(source, str) and is_video(source):  # a video's picture is its poster
        from anagnorisisd.imaging.video_frames import poster

        yield poster(source, target, longest)
        return
    raw = (io.BytesIO(source) if isinstance(source, bytes)
           else open_regular(source, Limits.max_file_bytes))
    if isinstance(source, str) and formats.is_raw(source):
        with raw:
            width, height, sensor = formats.raw_size(raw)
            check_size(width, height)
            with Limits.budget.hold(sensor):  # LibRaw holds the sensor's data while it works
                yield formats.raw_image(raw, max(target or 0, longest or 0) or None)
        return
    with raw, open_header(raw) as img:
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)
        box = draft_box(*img.size, target, longest)
        if box and img.format == "JPEG":
            img.draft("RGB", box)
        rotates = img.getexif().get(ORIENTATION, 1) in range(2, 9)
        cost = img.size[0] * img.size[1] * (2 if rotates else 1)
        if img.format not in PIXEL_BOUNDED:
            cost = Limits.budget.capacity
        with Limits.budget.hold(cost):
            img.load()
            yield ImageOps.exif_transpose(img) if rotates else img


def failure_reason(exc: BaseException, doing: str = "cannot decode") -> str:
    """The one line a failed file is recorded with, the same from every stage that reads
    images: our own refusals say themselves, anything else names its type."""
    if isinstance(exc, UnidentifiedImageError):
        return "not an image Pillow can read"
    if isinstance(exc, UnreadableFile | ImageTooLarge | formats.RawError | VideoRefused):
        return str(exc)
    return f"{doing}: {type(exc).__name__}: {exc}"
