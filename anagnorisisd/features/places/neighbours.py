"""Positions proposed from neighbouring shots: a photo with no position, taken within
minutes of photos from the same camera that have one, was most likely taken where they
were. Proposed, never filled by itself: the person sees the proposals and accepts them
(source "neighbour")."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

MAX_GAP_S = 600.0


def propose(columns: Any, lat: NDArray[np.float64], lon: NDArray[np.float64],
            max_gap_s: float = MAX_GAP_S) -> list[dict[str, Any]]:
    """For each photo without a position, with its own capture time and a camera: the
    position of the same camera's shots within max_gap_s, interpolated between the one
    before and the one after when both are that close, else the nearer one's."""
    shown = ~columns.failed & ~columns.twin & columns.own_time & (columns.camera != "")
    placed = shown & ~np.isnan(lat)
    lacking = shown & np.isnan(lat)
    out: list[dict[str, Any]] = []
    if not placed.any() or not lacking.any():
        return out
    for camera in np.intersect1d(np.unique(columns.camera[placed]),
                                 np.unique(columns.camera[lacking])):
        known = np.flatnonzero(placed & (columns.camera == camera))
        known = known[np.argsort(columns.taken[known], kind="stable")]
        times = columns.taken[known]
        for row in np.flatnonzero(lacking & (columns.camera == camera)):
            t = columns.taken[row]
            after = int(np.searchsorted(times, t))
            before = after - 1
            near = [(i, abs(t - times[i])) for i in (before, after)
                    if 0 <= i < len(times) and abs(t - times[i]) <= max_gap_s]
            if not near:
                continue
            if len(near) == 2 and times[after] > times[before]:
                share = (t - times[before]) / (times[after] - times[before])
                a, b = known[before], known[after]
                where = (lat[a] + share * (lat[b] - lat[a]), lon[a] + share * (lon[b] - lon[a]))
            else:
                nearest = min(near, key=lambda n: n[1])[0]
                where = (lat[known[nearest]], lon[known[nearest]])
            out.append({"id": columns.ids[row].hex(), "lat": round(float(where[0]), 6),
                        "lon": round(float(where[1]), 6),
                        "gap_s": round(float(min(g for _i, g in near)), 1),
                        "from": [columns.ids[known[i]].hex() for i, _g in near]})
    return out
