"""A picture a browser can show, made from any photo the daemon can read.

Browsers show JPEG, PNG, WebP and GIF, but not HEIC/HEIF, TIFF or camera RAW, and a
24 MP JPEG is 8 MB to fetch for a 2,000-pixel-wide window. So the viewer asks for a
rendition: the photo through the one bounded decode path, upright, in sRGB, no larger
than the size asked for, as a JPEG. A photo the browser can show as it is, no larger
than that, is served as it is instead (no decode, no loss).
"""

from __future__ import annotations

import io

from PIL import Image

from anagnorisisd.imaging.convert import to_rgb
from anagnorisisd.imaging.decoding import decoded

SIZES = (640, 1280, 1920, 2560, 3840)
"""The longest sides a rendition is made at: a request is rounded up to one of these, so a
window resized a pixel at a time does not fill the cache with near-copies."""
BROWSER_FORMATS = frozenset({"jpeg", "png", "webp", "gif"})
"""What every browser the panel supports decodes itself (the metadata stage's names)."""
QUALITY = 88


def size_for(asked: int) -> int:
    """The rendition size that serves a request for `asked` pixels on the longest side."""
    return next((s for s in SIZES if s >= asked), SIZES[-1])


def shown_as_is(fmt: str, width: int, height: int, size: int) -> bool:
    """Whether the original serves: a browser format, no larger than the rendition."""
    return fmt in BROWSER_FORMATS and max(width, height) <= size


def render_jpeg(path: str, size: int) -> bytes:
    """The photo at `path`, upright and in sRGB, its longest side at most `size`, as JPEG
    (4:4:4 at this quality: fine colour edges in screenshots and text stay crisp)."""
    with decoded(path, size) as full:
        img = to_rgb(full)
        img.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=QUALITY, subsampling=0, progressive=True)
    return out.getvalue()
