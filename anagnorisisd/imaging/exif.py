"""When, with what and where a photo was taken, from its EXIF and XMP, headers only.

Capture time follows what photo tools agree on: EXIF DateTimeOriginal with its
OffsetTimeOriginal when the camera wrote one, else XMP's photoshop:DateCreated or
xmp:CreateDate, else EXIF DateTime, else the file's modification time, and the
record says which (``taken_source``) so nobody mistakes a copy date for a
capture date. Times are the wall-clock time the photo shows; the offset, when
known, is kept beside it.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import IO, Any

from PIL import Image

from anagnorisisd.imaging.xmp import read_flags, read_rating
from anagnorisisd.strings import scrub

EXIF_IFD = 0x8769
GPS_IFD = 0x8825
TAGS = {"make": 0x010F, "model": 0x0110, "datetime": 0x0132}
EXIF_TAGS = {"datetime_original": 0x9003, "offset_original": 0x9011, "exposure": 0x829A,
             "fnumber": 0x829D, "iso": 0x8827, "focal_length": 0x920A, "lens": 0xA434,
             "lens_make": 0xA433, "exposure_bias": 0x9204}
XMP_DATE = re.compile(rb'(?:photoshop:DateCreated|xmp:CreateDate)\s*=\s*"([^"]+)"|'
                      rb"<(?:photoshop:DateCreated|xmp:CreateDate)>([^<]+)<")


MAX_TEXT = 200
"""The longest camera or lens name kept. EXIF text is untrusted: a 30,000-character camera
name would be stored, indexed and served with every listing. Longer text is cut here, with
an ellipsis, and the metadata stage records which fields were cut (`capped`)."""


def clean(value: Any) -> str | None:
    if isinstance(value, bytes):
        value = value[: MAX_TEXT * 4].decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = scrub(value[: MAX_TEXT * 4]).strip("\x00 \t\r\n")
    if len(value) > MAX_TEXT:
        value = value[: MAX_TEXT - 1] + "…"
    return value or None


def number(value: Any) -> float | None:
    try:
        result = float(value)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return result if result == result and abs(result) != float("inf") else None


def exif_time(raw: Any, offset: Any = None) -> tuple[str, str | None] | None:
    """'2023:07:14 18:03:22' (+ '+01:00') -> ('2023-07-14T18:03:22', '+01:00')."""
    text = clean(raw)
    if text is None:
        return None
    try:
        when = dt.datetime.strptime(text[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    tz = clean(offset)
    return when.isoformat(), tz if tz and re.fullmatch(r"[+-]\d\d:\d\d", tz) else None


def xmp_time(xmp: bytes) -> tuple[str, str | None] | None:
    """An XMP date (ISO 8601, perhaps with a zone) as wall-clock time and offset."""
    match = XMP_DATE.search(xmp)
    if not match:
        return None
    text = (match.group(1) or match.group(2)).decode("ascii", "replace").strip()
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    offset = when.strftime("%z")
    return (when.replace(tzinfo=None).isoformat(),
            f"{offset[:3]}:{offset[3:]}" if offset else None)


def xmp_rating(xmp: bytes) -> float | None:
    """xmp:Rating (0-5 stars, 0 "not rated", -1 for a reject), or None."""
    return read_rating(xmp)


def gps_position(gps: dict[int, Any]) -> tuple[float, float] | None:
    """Decimal latitude and longitude from an EXIF GPS IFD, or None when absent or absurd."""
    def degrees(values: Any, ref: Any) -> float | None:
        try:
            d, m, s = (float(v) for v in values)
        except (TypeError, ValueError, ZeroDivisionError):
            return None
        value = d + m / 60 + s / 3600
        return -value if clean(ref) in ("S", "W") else value

    lat, lon = degrees(gps.get(2), gps.get(1)), degrees(gps.get(4), gps.get(3))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    if lat == 0 and lon == 0:
        return None  # "null island": a camera that had no fix
    return round(lat, 6), round(lon, 6)


def xmp_packet(img: Image.Image) -> bytes:
    """The XMP packet Pillow found (JPEG APP1, PNG iTXt, WebP, TIFF, HEIF), as bytes."""
    xmp = img.info.get("xmp") or img.info.get("XML:com.adobe.xmp") or b""
    return xmp.encode() if isinstance(xmp, str) else bytes(xmp)


def read_exif(img: Image.Image, mtime: float) -> dict[str, Any]:
    """The photo's capture, camera and place fields, for the metadata stage's record."""
    return read_tags(img.getexif(), xmp_packet(img), mtime)


TIFF_MAGIC = (b"II*\x00", b"MM\x00*")
XMP_TAG = 700
"""TIFF's XMLPacket: where DNG and other TIFF-based RAW files keep their XMP."""


def tiff_tags(fp: IO[bytes]) -> tuple[Image.Exif, bytes] | None:
    """The tags of a TIFF-based RAW file (DNG, NEF, CR2, ARW, PEF), read from its first
    IFD with Pillow's TIFF directory reader, even where Pillow cannot open its pixels (a
    DNG's LinearRaw or CFA data); None when the file is not TIFF inside (CR3, RAF, and
    ORF and RW2, whose headers bend TIFF's magic). Only the IFDs asked for are read."""
    fp.seek(0)
    if fp.read(4) not in TIFF_MAGIC:
        return None
    fp.seek(0)
    exif = Image.Exif()
    exif.load_from_fp(fp)
    packet = exif.get(XMP_TAG)
    xmp = packet if isinstance(packet, bytes) else packet.encode() if isinstance(
        packet, str) else b""
    return exif, xmp


def read_tags(exif: Image.Exif, xmp: bytes, mtime: float) -> dict[str, Any]:
    """The capture, camera and place fields from a file's EXIF and XMP.

    TIFF/EP (and so many RAW files) may put DateTimeOriginal in the first IFD rather than
    in the EXIF sub-IFD, as exiv2 and darktable read it: it is looked for there next."""
    sub = exif.get_ifd(EXIF_IFD)
    out: dict[str, Any] = {}
    taken = exif_time(sub.get(EXIF_TAGS["datetime_original"]),
                      sub.get(EXIF_TAGS["offset_original"]))
    if taken is None:
        taken = exif_time(exif.get(EXIF_TAGS["datetime_original"]),
                          exif.get(EXIF_TAGS["offset_original"]))
    source = "exif"
    if taken is None and xmp:
        taken, source = xmp_time(xmp), "xmp"
    if taken is None:
        taken, source = exif_time(exif.get(TAGS["datetime"])), "exif-modified"
    if taken is None:
        taken = (dt.datetime.fromtimestamp(mtime).replace(microsecond=0).isoformat(), None)
        source = "file-modified"
    out["taken_at"], out["taken_offset"] = taken
    out["taken_source"] = source
    make, model = clean(exif.get(TAGS["make"])), clean(exif.get(TAGS["model"]))
    if model and make and model.lower().startswith(make.lower().split()[0]):
        make = None  # "Canon" + "Canon EOS R5" reads as "Canon EOS R5"
    out["camera"] = " ".join(p for p in (make, model) if p) or None
    out["lens"] = clean(sub.get(EXIF_TAGS["lens"]))
    capped = [name for name, raw in (("camera", exif.get(TAGS["model"])),
                                     ("camera", exif.get(TAGS["make"])),
                                     ("lens", sub.get(EXIF_TAGS["lens"])))
              if (text := clean(raw)) is not None and text.endswith("…") and
              len(text) == MAX_TEXT]
    if capped:
        out["capped"] = sorted(set(capped))
    out["focal_length"] = number(sub.get(EXIF_TAGS["focal_length"]))
    out["exposure"] = number(sub.get(EXIF_TAGS["exposure"]))
    out["f_number"] = number(sub.get(EXIF_TAGS["fnumber"]))
    bias = number(sub.get(EXIF_TAGS["exposure_bias"]))  # EV; brackets step it
    out["exposure_bias"] = round(bias, 2) if bias is not None and abs(bias) <= 20 else None
    iso = sub.get(EXIF_TAGS["iso"])
    if isinstance(iso, tuple):  # some cameras write several values; the first is the one
        iso = iso[0] if iso else None
    out["iso"] = iso if isinstance(iso, int) and iso > 0 else None
    position = gps_position(exif.get_ifd(GPS_IFD))
    out["gps"] = list(position) if position else None
    out.update(read_flags(xmp) if xmp else dict.fromkeys(("xmp_rating", "xmp_pick",
                                                          "xmp_label")))
    return out
