"""Positions filled for photos that carry none of their own: from a GPS track, from the
shots around them, or by hand. Each is kept by content under user key `place`, with where
it came from, and never takes the place of a position the photo itself holds (its EXIF,
its sidecar's), which stays in the catalog's columns.

The search reads both through `overlay`: the catalog's own positions with the filled ones
laid over the rows that have none, made once per catalog columns and change."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.imaging.places import PLACES
from anagnorisisd.store.records import unpack

PLACE_KEY = "place"
SOURCES = ("gpx", "neighbour", "manual")


@dataclass(frozen=True)
class Filled:
    lat: float
    lon: float
    source: str
    place: str
    at: float

    def encode(self) -> dict[str, Any]:
        return {"lat": self.lat, "lon": self.lon, "source": self.source,
                "place": self.place, "at": self.at}


@dataclass
class Overlay:
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    place: NDArray[np.str_]


def valid(lat: Any, lon: Any) -> tuple[float, float] | None:
    """A position from a request: two numbers within the globe, or None."""
    if isinstance(lat, bool) or isinstance(lon, bool) or not isinstance(
            lat, int | float) or not isinstance(lon, int | float):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90
            and -180 <= lon <= 180):
        return None
    return round(float(lat), 6), round(float(lon), 6)


class PositionBook:
    def __init__(self, store: Any) -> None:
        self.store = store
        self.filled: dict[bytes, Filled] = {}
        self.version = 0
        self._overlay: tuple[Any, int, Overlay] | None = None
        self._lock = threading.Lock()

    def load(self) -> None:
        suffix = PLACE_KEY.encode()
        filled = {}
        with self.store.env.begin() as txn:
            for key, raw in txn.cursor(db=self.store.user):
                if len(key) == 32 + len(suffix) and bytes(key[32:]) == suffix:
                    record = unpack(bytes(raw))
                    if isinstance(record, dict) and (position := valid(
                            record.get("lat"), record.get("lon"))) and record.get(
                            "source") in SOURCES:
                        filled[bytes(key[:32])] = Filled(*position, str(record["source"]),
                                                         str(record.get("place") or ""),
                                                         float(record.get("at") or 0.0))
        with self._lock:
            self.filled = filled
            self.version += 1

    def put(self, positions: dict[bytes, tuple[float, float]], source: str) -> int:
        """Fill these photos' positions (one transaction), each named by its nearest
        town; how many."""
        now = time.time()
        made = {content: Filled(lat, lon, source, (PLACES.name(lat, lon) or "").lower(), now)
                for content, (lat, lon) in positions.items()}
        with self.store.write() as w:
            for content, filled in made.items():
                w.set_user(content, PLACE_KEY, filled.encode())
        with self._lock:
            self.filled.update(made)
            self.version += 1
        return len(made)

    def clear(self, content: bytes) -> bool:
        if content not in self.filled:
            return False
        with self.store.write() as w:
            w.set_user(content, PLACE_KEY, None)
        with self._lock:
            self.filled.pop(content, None)
            self.version += 1
        return True

    def overlay(self, columns: Any) -> Overlay:
        """The positions and place names the search sees: the photo's own where it has
        one, else the filled one."""
        cached = self._overlay
        if cached is not None and cached[0] is columns and cached[1] == self.version:
            return cached[2]
        with self._lock:
            filled = list(self.filled.items())
            version = self.version
        lat, lon, place = columns.lat.copy(), columns.lon.copy(), columns.place.astype(object)
        for content, position in filled:
            row = columns.position.get(content)
            if row is not None and math.isnan(lat[row]):
                lat[row], lon[row], place[row] = position.lat, position.lon, position.place
        made = Overlay(lat, lon, place.astype(str))
        self._overlay = (columns, version, made)
        return made
