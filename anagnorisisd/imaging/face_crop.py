"""A face cut out of its photo, for the people page: square, with some room around it.

Decoded through the one bounded decode path at the smallest scale that still gives the
face CROP_SIZE pixels, so a face crop of a 50-megapixel photo costs a reduced decode.
"""

from __future__ import annotations

import io
from contextlib import nullcontext

from PIL import Image

from anagnorisisd.imaging.convert import to_rgb
from anagnorisisd.imaging.decoding import decoded
from anagnorisisd.imaging.video_frames import frame_at

CROP_SIZE = 160
MARGIN = 0.35
"""Room around the box on each side, as a share of the face's size: hair and chin."""


def face_crop(path: str, box: tuple[float, ...], full: tuple[int, int],
              at_s: float | None = None) -> bytes:
    """JPEG of the square around `box` (pixels of the upright photo of size `full`; for a
    face found in a video's scene, of the frame at `at_s`)."""
    x1, y1, x2, y2 = box[:4]
    side = max(x2 - x1, y2 - y1) * (1 + 2 * MARGIN)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    longest = max(full)
    wanted = min(longest, max(CROP_SIZE, int(longest * CROP_SIZE / max(side, 1.0))))
    with (decoded(path, longest=wanted) if at_s is None
          else nullcontext(frame_at(path, at_s, longest=wanted))) as img:
        upright = to_rgb(img)
        scale = upright.width / max(1, full[0])
        square = (round((cx - side / 2) * scale), round((cy - side / 2) * scale),
                  round((cx + side / 2) * scale), round((cy + side / 2) * scale))
        crop = upright.crop(square).resize((CROP_SIZE, CROP_SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    crop.save(out, "JPEG", quality=88)
    return out.getvalue()
