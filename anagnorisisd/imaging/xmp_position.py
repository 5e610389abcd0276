"""A photo's position in XMP, as digiKam, Lightroom and exiftool write it and exiv2 reads
it: exif:GPSLatitude and exif:GPSLongitude, each a GPSCoordinate ("DDD,MM.mmmmmmk", the
degrees, decimal minutes and N/S or E/W), with exif:GPSVersionID beside them."""

from __future__ import annotations

import math
import re

from lxml import etree

from anagnorisisd.imaging.xmp import XmpError, parse, values
from anagnorisisd.imaging.xmp_sidecar import Unreject, Value

EXIF_NS = "http://ns.adobe.com/exif/1.0/"
GPS_LATITUDE = f"{{{EXIF_NS}}}GPSLatitude"
GPS_LONGITUDE = f"{{{EXIF_NS}}}GPSLongitude"
GPS_VERSION = f"{{{EXIF_NS}}}GPSVersionID"
COORDINATE = re.compile(r"^\s*(\d{1,3}),(\d{1,2}(?:\.\d+)?)(?:,(\d{1,2}(?:\.\d+)?))?([NSEW])\s*$")


def coordinate(value: float, axis: str) -> str:
    """38.7223, "lat" -> "38,43.33800000N": XMP's GPSCoordinate, to a millimetre."""
    sign = ("N", "S") if axis == "lat" else ("E", "W")
    whole = abs(value)
    degrees = int(whole)
    minutes = (whole - degrees) * 60
    return f"{degrees},{minutes:.8f}{sign[0] if value >= 0 else sign[1]}"


def degrees_of(text: str, axis: str) -> float | None:
    """A GPSCoordinate ("DDD,MM.mmk" or "DDD,MM,SSk") as signed degrees, or None."""
    match = COORDINATE.match(text)
    if match is None:
        return None
    whole, minutes, seconds, hemisphere = match.groups()
    if hemisphere not in (("N", "S") if axis == "lat" else ("E", "W")):
        return None
    value = int(whole) + float(minutes) / 60 + (float(seconds) / 3600 if seconds else 0.0)
    limit = 90 if axis == "lat" else 180
    if not math.isfinite(value) or value > limit:
        return None
    return -value if hemisphere in "SW" else value


def read_position(packet: bytes) -> tuple[float, float] | None:
    """The position an XMP packet says, or None (none, or not one that makes sense)."""
    try:
        root = parse(packet)
    except XmpError:
        return None
    return position_of(root)


def position_of(root: etree._Element) -> tuple[float, float] | None:
    lat_text, lon_text = values(root, GPS_LATITUDE), values(root, GPS_LONGITUDE)
    if not lat_text or not lon_text:
        return None
    lat, lon = degrees_of(lat_text[0], "lat"), degrees_of(lon_text[0], "lon")
    if lat is None or lon is None or (lat == 0 and lon == 0):
        return None
    return round(lat, 6), round(lon, 6)


def position_properties(lat: float, lon: float) -> dict[str, Value | Unreject]:
    """What a write of this position sets (xmp_sidecar.write_properties)."""
    return {GPS_LATITUDE: coordinate(lat, "lat"), GPS_LONGITUDE: coordinate(lon, "lon"),
            GPS_VERSION: "2.2.0.0"}
