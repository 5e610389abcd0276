"""Photos on a map, gathered server-side into one cluster per grid cell of the zoom asked:
the panel draws a few hundred markers however many photos there are."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

CELLS_PER_TILE = 4
"""Cells across one 256-pixel map tile: a cluster every 64 pixels or so."""
MAX_CLUSTERS = 2000
MAX_CELLS = 4_000_000
"""Cells of one answer's grid at most (32 MB of counts): a screen at any zoom has a few
hundred; a whole world asked at street level would have billions."""


class TooManyCells(ValueError):
    """A box and zoom whose grid is larger than one answer holds (a 400)."""


def parse_bbox(raw: str) -> tuple[float, float, float, float]:
    """'W,S,E,N' in degrees; W may be east of E (the box crosses the antimeridian)."""
    parts = raw.split(",")
    if len(parts) != 4:
        raise ValueError("bbox is W,S,E,N in degrees, like -10,35,5,44")
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError:
        raise ValueError("bbox is four numbers: W,S,E,N in degrees") from None
    if not all(-180 <= x <= 180 for x in (west, east)) or not all(
            -90 <= y <= 90 for y in (south, north)) or south > north:
        raise ValueError("bbox: longitudes -180 to 180, latitudes -90 to 90, S below N")
    return west, south, east, north


def inside(lat: NDArray[np.float64], lon: NDArray[np.float64],
           box: tuple[float, float, float, float]) -> NDArray[np.bool_]:
    west, south, east, north = box
    with np.errstate(invalid="ignore"):
        rows = (lat >= south) & (lat <= north)
        across = (lon >= west) & (lon <= east) if west <= east else (lon >= west) | (lon <= east)
    return np.asarray(rows & across)


def near(lat: NDArray[np.float64], lon: NDArray[np.float64], at: tuple[float, float],
         km: float) -> NDArray[np.bool_]:
    """Within `km` of a point along the sphere (haversine, Earth's mean radius)."""
    la, lo = np.radians(lat), np.radians(lon)
    la0, lo0 = np.radians(at[0]), np.radians(at[1])
    with np.errstate(invalid="ignore"):
        a = np.sin((la - la0) / 2) ** 2 + np.cos(la) * np.cos(la0) * np.sin((lo - lo0) / 2) ** 2
        distance = 2 * 6371.0088 * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
        return np.asarray(distance <= km)


def clusters(lat: NDArray[np.float64], lon: NDArray[np.float64], rows: NDArray[np.intp],
             zoom: int, cover_key: NDArray[np.float64], ids: list[bytes],
             box: tuple[float, float, float, float]) -> list[dict[str, Any]]:
    """One cluster per cell of the box's grid at this zoom: its photos' mean position,
    count, bounding box and cover (the best by `cover_key`), the largest first.

    Linear in the photos: the cells are numbered within the box (a screen holds a few
    hundred), counted and summed with bincount, the best of each with one ufunc.at; a box
    of more than MAX_CELLS cells (a whole world at street level) is refused."""
    if not len(rows):
        return []
    west, south, east, north = box
    cell = 360.0 / (2 ** zoom) / CELLS_PER_TILE
    width = east - west if west <= east else east + 360.0 - west
    across = int(width / cell) + 2
    down = int((north - south) / cell) + 2
    if across * down > MAX_CELLS:
        raise TooManyCells(f"zoom {zoom} over that box makes {across * down:,} cells: zoom out "
                         "or ask for a smaller box")
    la, lo = lat[rows], lon[rows]
    x = np.floor(((lo - west) % 360.0) / cell).astype(np.int64)
    y = np.floor((la - south) / cell).astype(np.int64)
    where = y * across + x
    size = across * down
    counts = np.bincount(where, minlength=size)
    used = np.flatnonzero(counts)
    mean_lat = np.bincount(where, weights=la, minlength=size)[used] / counts[used]
    mean_lon = np.bincount(where, weights=lo, minlength=size)[used] / counts[used]
    # A cluster's box is its cell (within the window): it holds every photo of the
    # cluster and none of another, so a click's within: finds exactly those.
    cell_x, cell_y = used % across, used // across
    cell_west = ((west + cell_x * cell + 180.0) % 360.0) - 180.0
    extremes = [np.maximum(cell_west, west) if west <= east else cell_west,
                np.maximum(south + cell_y * cell, south),
                np.minimum(cell_west + cell, east if west <= east else 180.0),
                np.minimum(south + (cell_y + 1) * cell, north)]
    key = cover_key[rows]
    best = np.full(size, -np.inf)
    np.maximum.at(best, where, key)
    top = np.flatnonzero(key >= best[where])
    cells, first = np.unique(where[top], return_index=True)
    cover_of = dict(zip(cells.tolist(), rows[top[first]].tolist(), strict=True))
    biggest = np.argsort(-counts[used], kind="stable")[:MAX_CLUSTERS]
    return [{"lat": round(float(mean_lat[i]), 6), "lon": round(float(mean_lon[i]), 6),
             "count": int(counts[used[i]]), "cover": ids[cover_of[int(used[i])]].hex(),
             "bbox": [round(float(b[i]), 6) for b in extremes]} for i in biggest]
