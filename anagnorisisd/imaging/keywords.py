"""Keywords other photo tools wrote, read from XMP (sidecar or embedded) and IPTC.

A photographer arrives with years of keywords: digiKam, Lightroom and darktable write
them to XMP sidecars, and cameras, phones and older tools to IPTC inside the file. Each
tool says a hierarchy its own way, and they are read as one:

- Lightroom: ``lr:hierarchicalSubject``, ``Places|Europe|Lisbon``;
- digiKam: ``digiKam:TagsList``, ``Places/Europe/Lisbon``;
- everyone: ``dc:subject``, flat words (Lightroom also puts every level there);
- IPTC IIM 2:25 Keywords, flat words, UTF-8 when 1:90 says so, else Latin-1.

A keyword is kept as its path with ``|`` between levels. A flat word that is a level of
a path already read is not kept twice. Everything is untrusted: a sidecar may hold
thousands of keywords or one of a megabyte, so each keyword is cut to MAX_LENGTH
characters and MAX_DEPTH levels, and a photo keeps its first MAX_KEYWORDS.
"""

from __future__ import annotations

from typing import Any

from lxml import etree
from PIL import Image, ImageFile, IptcImagePlugin

from anagnorisisd.imaging.xmp import (
    HIERARCHICAL,
    SUBJECT,
    TAGS_LIST,
    XmpError,
    parse,
    sequence,
)

SEPARATOR = "|"
MAX_KEYWORDS = 500
MAX_LENGTH = 200
MAX_DEPTH = 16
IPTC_KEYWORDS = (2, 25)
IPTC_CHARSET = (1, 90)
UTF8_ESCAPE = b"\x1b%G"


def clean_level(text: str) -> str:
    """One level of a keyword: control characters and runs of spaces made one space."""
    return " ".join("".join(c if c.isprintable() else " " for c in text[: MAX_LENGTH * 2])
                    .split())[:MAX_LENGTH]


def clean_path(levels: list[str]) -> str | None:
    kept = [level for level in (clean_level(part) for part in levels[:MAX_DEPTH]) if level]
    return SEPARATOR.join(kept)[: MAX_LENGTH * 4] or None


def levels_of(path: str) -> list[str]:
    return path.split(SEPARATOR)


def merge(*groups: tuple[str, list[str | None]]) -> list[dict[str, str]]:
    """Paths from several places as [{"name", "source"}], each once (any case), the first
    place that said it winning; a flat word that is a level of a longer path dropped."""
    seen: dict[str, dict[str, str]] = {}
    for source, paths in groups:
        for path in paths:
            if path and path.casefold() not in seen and len(seen) < MAX_KEYWORDS:
                seen[path.casefold()] = {"name": path, "source": source}
    levels = {level.casefold() for item in seen.values() if SEPARATOR in item["name"]
              for level in levels_of(item["name"])}
    return [item for key, item in seen.items()
            if SEPARATOR in item["name"] or key not in levels]


def xmp_paths(root: etree._Element) -> list[str | None]:
    """Every keyword of a parsed packet, hierarchical ones first."""
    paths = [clean_path(value.split("|")) for value in sequence(root, HIERARCHICAL)]
    paths += [clean_path(value.split("/")) for value in sequence(root, TAGS_LIST)]
    paths += [clean_path([value]) for value in sequence(root, SUBJECT)]
    return paths[: MAX_KEYWORDS * 4]


def read_xmp_keywords(packet: bytes) -> list[str | None]:
    """The keywords of an XMP packet; none for one that is not XMP."""
    try:
        return xmp_paths(parse(packet))
    except XmpError:
        return []


def read_iptc_keywords(img: Image.Image) -> list[str | None]:
    """IPTC 2:25 of a JPEG or TIFF, as Pillow finds it; none when it has none or the
    block is malformed (Pillow raises on some truncated blocks)."""
    if not isinstance(img, ImageFile.ImageFile):
        return []
    try:
        info: dict[tuple[int, int], Any] | None = IptcImagePlugin.getiptcinfo(img)
    except Exception:
        return []
    if not info:
        return []
    raw = info.get(IPTC_KEYWORDS)
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    utf8 = info.get(IPTC_CHARSET) == UTF8_ESCAPE
    words: list[str | None] = []
    for item in items[: MAX_KEYWORDS]:
        if not isinstance(item, bytes):
            continue
        try:  # most writers use UTF-8 without saying so; Latin-1 is IIM's old default
            text = item.decode("utf-8")
        except UnicodeDecodeError:
            text = item.decode("utf-8", "replace") if utf8 else item.decode("latin-1")
        words.append(clean_path([text]))
    return words
