"""The metadata stage's values as the catalog reads them: times, offsets, numbers,
keywords and the light a shot let in, each nan (or empty) where absent or absurd, never an
exception: a stage's output may come from an older version or another machine."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from anagnorisisd.search.tags import Tagged


def wall_clock_seconds(iso: Any) -> float:
    """'2023-07-14T18:03:22' -> seconds, that wall-clock time read as UTC; nan if absent."""
    if not isinstance(iso, str):
        return float("nan")
    try:
        return dt.datetime.fromisoformat(iso).replace(tzinfo=dt.UTC).timestamp()
    except ValueError:
        return float("nan")


def offset_seconds(raw: Any) -> float:
    """'+01:00' (EXIF's OffsetTimeOriginal, as the metadata stage keeps it) -> 3600.0; nan
    for anything else."""
    if not isinstance(raw, str) or len(raw) != 6 or raw[0] not in "+-" or raw[3] != ":":
        return float("nan")
    try:
        hours, minutes = int(raw[1:3]), int(raw[4:6])
    except ValueError:
        return float("nan")
    if hours > 14 or minutes > 59:
        return float("nan")
    return (1.0 if raw[0] == "+" else -1.0) * (hours * 3600 + minutes * 60)


def number(record: dict[str, Any], key: str) -> float:
    """A stage output's number, nan where it is missing or not a number."""
    value = record.get(key)
    return float(value) if isinstance(value, (int, float)) else float("nan")


def keywords_of(meta: dict[str, Any]) -> list[Tagged]:
    """The keywords the metadata stage read from the photo's files, as tags."""
    found = meta.get("keywords")
    return [(str(k["name"]), str(k["source"])) for k in found or ()
            if isinstance(k, dict) and k.get("name") and k.get("source")]


def light_of(meta: dict[str, Any]) -> float:
    """log2(t x ISO / N^2) from the EXIF settings, nan where one is missing or absurd."""
    t, n, iso = number(meta, "exposure"), number(meta, "f_number"), number(meta, "iso")
    if not (t > 0 and n > 0 and iso > 0):
        return float("nan")
    return math.log2(t * iso / (n * n))
