"""Colours as people name them: a few basic names, each a region of hue, saturation and
value (a dark orange is brown, any colour washed out enough is grey), and the distance
between two colours for `color:#RRGGBB`."""

from __future__ import annotations

import colorsys
import re

NAMES = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink", "brown",
         "black", "white", "grey")
HEX_RE = re.compile(r"^#?([0-9a-fA-F]{6})$")
HUES = ((15, "red"), (40, "orange"), (70, "yellow"), (165, "green"), (200, "cyan"),
        (255, "blue"), (290, "purple"), (335, "pink"), (360, "red"))
"""Upper bounds of hue, in degrees, for each name."""
NEAR = 70.0
"""How far (in RGB, 0-441) a photo's dominant colour may be from `color:#RRGGBB`."""


def name_of(rgb: tuple[int, int, int]) -> str:
    r, g, b = (c / 255 for c in rgb)
    hue, light, saturation = colorsys.rgb_to_hls(r, g, b)
    value = max(r, g, b)
    if value < 0.18:
        return "black"
    if saturation < 0.18 or (value - min(r, g, b)) < 0.12:
        return "white" if light > 0.8 else "grey"
    degrees = hue * 360
    name = next(n for bound, n in HUES if degrees < bound)
    if name in ("orange", "red", "yellow") and value < 0.55 and light < 0.4:
        return "brown"
    return name


def parse_hex(text: str) -> tuple[int, int, int] | None:
    match = HEX_RE.match(text)
    if match is None:
        return None
    value = int(match[1], 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


def distance(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    return float(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5)
