"""Places at 1,000,000 photos: map clusters per zoom, and geotagging against a long track.

Run: make bench-places   (or: .venv/bin/python bench/bench_places.py [--items N])

1. GET /api/places's work (the places feature's `clusters`: positions with the filled
   ones laid over, the box, the grid, counts, covers, boxes) p95 per zoom, for a window
   the size of a screen at that zoom over the densest region; beside it the nearest
   limit, a bare np.unique over the same cells. Goal: < 50 ms.
2. Geotagging 100,000 photos against a 1,000,000-point track (the lookup and the
   interpolation: geotag.locate), beside a bare np.interp; and reading a 100,000-point
   GPX file with gpxpy (the parse is the cost of a long track; 50 MB is the most taken).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from anagnorisisd.features.places.clusters import CELLS_PER_TILE
from anagnorisisd.features.places.feature import PlacesFeature
from anagnorisisd.features.places.geotag import Track, locate, read_gpx
from anagnorisisd.features.places.positions import Filled, PositionBook


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95) * 1000)


def columns(n: int) -> Any:
    """A library's columns as the catalog makes them: half the photos around a few
    cities, a quarter spread over the world, a quarter with no position."""
    rng = np.random.default_rng(4)
    cities = np.asarray([(38.72, -9.14), (48.86, 2.35), (40.71, -74.0), (35.68, 139.69),
                         (-33.87, 151.21), (45.45, 14.1)])
    lat = np.full(n, np.nan)
    lon = np.full(n, np.nan)
    half, quarter = n // 2, n // 4
    which = rng.integers(0, len(cities), half)
    lat[:half] = cities[which, 0] + rng.normal(0, 0.05, half)
    lon[:half] = cities[which, 1] + rng.normal(0, 0.05, half)
    lat[half:half + quarter] = rng.uniform(-60, 70, quarter)
    lon[half:half + quarter] = rng.uniform(-180, 180, quarter)
    ids = [i.to_bytes(32, "big") for i in range(n)]
    false = np.zeros(n, dtype=bool)
    return SimpleNamespace(
        ids=ids, lat=lat, lon=lon, place=np.asarray([""] * n, dtype="<U8"),
        rating=rng.uniform(0, 10, n), failed=false, ready=~false, twin=false,
        position={c: i for i, c in enumerate(ids)})


def cluster_run(n: int) -> list[tuple[int, float, float, int]]:
    cols = columns(n)
    store = SimpleNamespace()
    feature = PlacesFeature.__new__(PlacesFeature)
    feature.context = SimpleNamespace(section={}, search=SimpleNamespace(  # type: ignore[assignment]
        catalog=SimpleNamespace(columns=lambda: cols)))
    feature.book = PositionBook(store)
    rng = np.random.default_rng(8)
    lacking = np.flatnonzero(np.isnan(cols.lat))[: n // 10]  # a tenth filled from tracks
    feature.book.filled = {cols.ids[i]: Filled(float(rng.uniform(-50, 60)),
                                               float(rng.uniform(-170, 170)), "gpx", "", 0.0)
                           for i in lacking}
    rows = []
    for zoom in (0, 3, 6, 9, 12, 15):
        half_w = 360.0 / 2 ** zoom * 2.5  # a 1280-pixel-wide screen: 5 tiles across
        half_h = min(85.0, half_w / 2)
        box = (max(-180.0, -9.14 - half_w), max(-90.0, 38.72 - half_h),
               min(180.0, -9.14 + half_w), min(90.0, 38.72 + half_h))
        times, bare, count = [], [], 0
        for _ in range(20):
            began = time.perf_counter()
            answer = feature.clusters(box, zoom, "")
            times.append(time.perf_counter() - began)
            count = len(answer["clusters"])
            seen = feature.book.overlay(cols)
            with np.errstate(invalid="ignore"):
                inside = (seen.lat >= box[1]) & (seen.lat <= box[3]) & (
                    seen.lon >= box[0]) & (seen.lon <= box[2])
            began = time.perf_counter()
            cell = 360.0 / 2 ** zoom / CELLS_PER_TILE
            np.unique(np.floor(seen.lat[inside] / cell) * 1e6 + np.floor(seen.lon[inside] / cell))
            bare.append(time.perf_counter() - began)
        rows.append((zoom, p95(times), p95(bare), count))
    return rows


def gpx_text(points: int) -> bytes:
    start = dt.datetime(2024, 5, 1, tzinfo=dt.UTC).timestamp()
    body = "".join(f'<trkpt lat="{45 + i * 1e-5:.6f}" lon="{14 + i * 1e-5:.6f}"><time>'
                   f'{dt.datetime.fromtimestamp(start + i, dt.UTC):%Y-%m-%dT%H:%M:%SZ}'
                   f"</time></trkpt>" for i in range(points))
    return (f'<?xml version="1.0" encoding="UTF-8"?><gpx version="1.1" creator="bench">'
            f"<trk><trkseg>{body}</trkseg></trk></gpx>").encode()


def geotag_run() -> dict[str, float]:
    rng = np.random.default_rng(2)
    points = 1_000_000
    times = np.sort(rng.uniform(0, 3e7, points))
    track = Track(times, rng.uniform(40, 50, points), rng.uniform(0, 20, points))
    utc = rng.uniform(0, 3e7, 100_000)
    began = time.perf_counter()
    lat, _lon, _gap = locate(track, utc, 300.0)
    ours = time.perf_counter() - began
    began = time.perf_counter()
    np.interp(utc, track.times, track.lat)
    bare = time.perf_counter() - began
    data = gpx_text(100_000)
    began = time.perf_counter()
    parsed = read_gpx(data)
    parse = time.perf_counter() - began
    assert len(parsed.times) == 100_000
    return {"locate_s": ours, "interp_s": bare, "matched": float(np.isfinite(lat).sum()),
            "parse_s": parse, "gpx_mb": len(data) / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    args = parser.parse_args()
    rows = cluster_run(args.items)
    print(f"1. clusters over {args.items:,} photos (3/4 with a position, a tenth of the rest "
          "filled from tracks), a screen's window, 2 cores")
    print("| zoom | p95 ms | limit: bare np.unique, p95 ms | clusters |")
    print("|---|---|---|---|")
    for zoom, ours, bare, count in rows:
        print(f"| {zoom} | {ours:.1f} | {bare:.1f} | {count:,} |")
    geo = geotag_run()
    print("\n2. geotagging 100,000 photos against a 1,000,000-point track")
    print("| step | result |")
    print("|---|---|")
    print(f"| locate (searchsorted, gaps, interpolation) | {geo['locate_s']:.3f} s |")
    print(f"| limit: one bare np.interp | {geo['interp_s']:.3f} s |")
    print(f"| matched within 300 s | {geo['matched']:,.0f} |")
    print(f"| reading a 100,000-point GPX ({geo['gpx_mb']:.1f} MB) with gpxpy | "
          f"{geo['parse_s']:.1f} s |")


if __name__ == "__main__":
    main()
