"""Apple's MakerNote, for the one field Photos pairs a Live Photo by: the content identifier
(tag 0x11), which the still carries here and its motion as a QuickTime key.

The MakerNote is "Apple iOS", a version, a byte order mark and then a TIFF directory whose
offsets count from the MakerNote's first byte. It is untrusted bytes like all EXIF: every
read is bounded by the buffer, and anything unexpected means "no identifier".
"""

from __future__ import annotations

import struct

from PIL import Image

EXIF_IFD = 0x8769
MAKER_NOTE = 0x927C
CONTENT_IDENTIFIER = 0x0011
HEADER = b"Apple iOS\x00"
MAX_ENTRIES = 512
MAX_TEXT = 128


def content_identifier(exif: Image.Exif) -> str | None:
    """The still's Live Photo identifier, or None."""
    try:
        note = exif.get_ifd(EXIF_IFD).get(MAKER_NOTE)
    except Exception:  # a damaged EXIF directory: no identifier
        return None
    if not isinstance(note, bytes) or not note.startswith(HEADER) or len(note) < 16:
        return None
    order = {b"MM": ">", b"II": "<"}.get(note[12:14])
    if order is None:
        return None
    count = struct.unpack_from(order + "H", note, 14)[0]
    for index in range(min(count, MAX_ENTRIES)):
        at = 16 + 12 * index
        if at + 12 > len(note):
            return None
        tag, kind, length, value = struct.unpack_from(order + "HHI4s", note, at)
        if tag != CONTENT_IDENTIFIER or kind != 2 or not 0 < length <= MAX_TEXT:
            continue
        if length <= 4:
            raw = value[:length]
        else:
            offset = struct.unpack(order + "I", value)[0]
            raw = note[offset : offset + length] if offset + length <= len(note) else b""
        text = raw.split(b"\x00", 1)[0].decode("ascii", "replace").strip()
        return text or None
    return None
