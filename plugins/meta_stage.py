"""The metadata stage: what sorting, filtering and the viewer need, from headers only:
size and format, when (with where the time came from), camera and lens, exposure, GPS
and the nearest town, and the rating, flags and keywords other photo tools wrote."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import IO, Any, ClassVar

from PIL import Image

from anagnorisisd.imaging.apple import content_identifier
from anagnorisisd.imaging.budget import Limits
from anagnorisisd.imaging.convert import displayed_size
from anagnorisisd.imaging.decoding import open_header
from anagnorisisd.imaging.exif import read_exif, read_tags, tiff_tags, xmp_packet
from anagnorisisd.imaging.formats import is_raw, raw_size
from anagnorisisd.imaging.keywords import merge, read_iptc_keywords, read_xmp_keywords
from anagnorisisd.imaging.places import PLACES
from anagnorisisd.imaging.video import describe as describe_video
from anagnorisisd.imaging.video import is_video
from anagnorisisd.imaging.xmp_position import read_position
from anagnorisisd.imaging.xmp_sidecar import read_sidecars
from anagnorisisd.ingest.safe_io import open_regular
from anagnorisisd.pipeline.per_file import each_file
from anagnorisisd.stage import Stage, StageContext, StageInput, StageOutput


def read_meta(path: str) -> dict[str, Any]:
    """Format, displayed size, file size, capture time, camera and place, without decoding
    pixels: Pillow's ``open`` parses only the header (and, for RAW, LibRaw its own); a
    video's container says its own (imaging.video, one frame for its display turn)."""
    if is_video(path):
        return with_sidecars(path, video_meta(path), [], [])
    return with_sidecars(path, *photo_meta(path))


def video_meta(path: str) -> dict[str, Any]:
    record = describe_video(path)
    stat = os.stat(path)
    record["file_size"] = stat.st_size
    if record.get("taken_at") is None:
        record["taken_at"] = dt.datetime.fromtimestamp(stat.st_mtime).replace(
            microsecond=0).isoformat()
        record["taken_source"] = "file-modified"
    return record


def photo_meta(path: str) -> tuple[dict[str, Any], list[str | None], list[str | None]]:
    embedded: list[str | None] = []
    iptc: list[str | None] = []
    with open_regular(path, Limits.max_file_bytes) as raw:
        stat = os.fstat(raw.fileno())
        if is_raw(path):
            width, height, _ = raw_size(raw)
            raw.seek(0)
            record: dict[str, Any] = {"format": Path(path).suffix.lower().lstrip("."),
                                      "width": width, "height": height, "frames": 1}
            record.update(raw_exif(raw, stat.st_mtime))
        else:
            with open_header(raw) as img:
                width, height = displayed_size(img)
                record = {"format": (img.format or "").lower(), "width": width,
                          "height": height, "frames": int(getattr(img, "n_frames", 1))}
                record.update(read_exif(img, stat.st_mtime))
                record["content_id"] = content_identifier(img.getexif())
                embedded, iptc = read_xmp_keywords(xmp_packet(img)), read_iptc_keywords(img)
    record["file_size"] = stat.st_size
    return record, embedded, iptc


def with_sidecars(path: str, record: dict[str, Any], embedded: list[str | None],
                  iptc: list[str | None]) -> dict[str, Any]:
    """What the sidecars add: a position where the file has none, the flags (a sidecar wins
    over the file), the keywords of both."""
    packets, flags, sidecar_at = read_sidecars(path)
    record["gps_source"] = "exif" if record.get("gps") else None
    if not record.get("gps"):  # the file says nowhere: a sidecar may (digiKam, geotaggers)
        found = next((p for packet in packets if (p := read_position(packet))), None)
        record["gps"], record["gps_source"] = (list(found), "xmp") if found else (None, None)
    gps = record.get("gps")
    record["place"] = PLACES.name(*gps) if gps else None
    if any(value is not None for value in flags.values()):  # a sidecar wins over the file
        record.update(flags)
    record["xmp_at"] = sidecar_at  # when a sidecar last said so: newer wins (app.sidecars)
    record["keywords"] = merge(("xmp", [p for packet in packets
                                        for p in read_xmp_keywords(packet)]),
                               ("xmp", embedded), ("iptc", iptc))
    return record


def raw_exif(raw: IO[bytes], mtime: float) -> dict[str, Any]:
    """Most RAW formats are TIFF inside, so their tags are read as TIFF's, though Pillow
    cannot decode their pixels; for the others (CR3, RAF) the time is the file's."""
    try:
        found = tiff_tags(raw)
    except Exception:  # a damaged directory: no tags, as for a format that has none
        found = None
    exif, xmp = found if found is not None else (Image.Exif(), b"")
    try:
        return read_tags(exif, xmp, mtime)
    except Exception:
        return read_tags(Image.Exif(), b"", mtime)


class MetaStage(Stage):
    """Reads the photo's sidecars too (`reads_sidecars`): a sidecar another tool changes
    brings the photo back here, and only here."""

    name: ClassVar[str] = "meta"
    reads_sidecars: ClassVar[bool] = True
    provides: ClassVar[tuple[str, ...]] = ("metadata",)
    version = "6"  # 6: videos, Apple's Live Photo identifier; 5: a sidecar's position;
    # 4: keywords; 3: exposure bias; 2: capture time with its source, camera, lens,
    # exposure, GPS, place, XMP

    def __init__(self, config: dict[str, Any], context: StageContext | None = None) -> None:
        super().__init__(config, context)
        self.batch_size = 64

    def process(self, batch: list[StageInput]) -> list[StageOutput]:
        return each_file(batch, lambda item: read_meta(item.path), "unreadable header")
