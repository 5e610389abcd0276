"""Positions from a GPS track: each photo's capture time, turned to UTC, looked up in the
track's points and interpolated between the one before and the one after.

The track is GPX, read with gpxpy. What could make reading it a hazard is refused before
it is parsed: more than MAX_GPX_BYTES, or any document type declaration (entities are
declared there, and a billion-laughs file is nothing but entities)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

MAX_GPX_BYTES = 50 << 20
MAX_GAP_S = 300.0


class TrackError(ValueError):
    """A track that cannot be used, said in one line (a 400)."""


@dataclass
class Track:
    times: NDArray[np.float64]  # UTC seconds, ascending
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]


def read_gpx(data: bytes) -> Track:
    """Every timed point of the file's tracks, routes and waypoints, in time order."""
    import gpxpy
    import gpxpy.gpx

    if len(data) > MAX_GPX_BYTES:
        raise TrackError(f"a GPX file of at most {MAX_GPX_BYTES >> 20} MB")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise TrackError("a GPX file with a document type declaration is refused (entities "
                         "there could expand without end)")
    try:
        gpx = gpxpy.parse(data.decode("utf-8-sig", errors="replace"))
    except (gpxpy.gpx.GPXException, ValueError) as exc:
        raise TrackError(f"not a GPX file: {str(exc).splitlines()[0][:200]}") from None
    points: list[tuple[float, float, float]] = []
    every: list[Any] = [p for t in gpx.tracks for s in t.segments for p in s.points]
    every += [p for r in gpx.routes for p in r.points] + list(gpx.waypoints)
    for point in every:
        when = point.time
        if when is None:
            continue
        if when.tzinfo is None:  # GPX times are UTC by the standard
            when = when.replace(tzinfo=dt.UTC)
        points.append((when.timestamp(), float(point.latitude), float(point.longitude)))
    if not points:
        raise TrackError("the track has no times: a photo can only be placed on it by time")
    array = np.asarray(sorted(points), dtype=np.float64)
    return Track(array[:, 0], array[:, 1], array[:, 2])


def merged(tracks: list[Track]) -> Track:
    times = np.concatenate([t.times for t in tracks])
    order = np.argsort(times, kind="stable")
    return Track(times[order], np.concatenate([t.lat for t in tracks])[order],
                 np.concatenate([t.lon for t in tracks])[order])


def locate(track: Track, utc: NDArray[np.float64], max_gap_s: float) -> tuple[
        NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Latitude, longitude and the gap to the nearer track point for each time; nan where
    the gap is over max_gap_s (or the time is unknown)."""
    times = track.times
    after = np.clip(np.searchsorted(times, utc), 0, len(times) - 1)
    before = np.clip(after - 1, 0, len(times) - 1)
    with np.errstate(invalid="ignore"):
        gap = np.minimum(np.abs(utc - times[before]), np.abs(times[after] - utc))
        lat = np.interp(utc, times, track.lat)
        lon = np.interp(utc, times, track.lon)
        far = ~(gap <= max_gap_s)
    lat[far], lon[far] = np.nan, np.nan
    return lat, lon, gap


def photo_utc(columns: Any, rows: NDArray[np.intp], offset_s: float | None
              ) -> NDArray[np.float64]:
    """When each photo was taken, in UTC: its wall-clock time less its own zone's offset
    where the camera wrote one, else less `offset_s` (the camera clock's difference from
    UTC: 7200 for a camera set to UTC+2, plus any error of its clock; 0 when not given);
    a time that is not the photo's own (a file's modification time) is nan."""
    taken = columns.taken[rows]
    own = columns.utc_offset[rows]
    shift = np.where(np.isnan(own), 0.0 if offset_s is None else offset_s, own)
    utc = taken - shift
    utc[~columns.own_time[rows]] = np.nan
    return np.asarray(utc)
