"""The places feature: `place:` (the nearest town's name, any part of it, any case),
`has:gps`, `near:LAT,LON[,KM]` and `within:W,S,E,N`, answered from the photos' own
positions and the ones filled for photos without (positions.py): from a GPS track
(geotag.py), or by hand; and the map's clusters (clusters.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.config import ConfigError
from anagnorisisd.feature import Feature, FeatureContext, Route, Setting, Word
from anagnorisisd.features.places import clusters as grid
from anagnorisisd.features.places.geotag import locate, merged, photo_utc, read_gpx
from anagnorisisd.features.places.neighbours import propose
from anagnorisisd.features.places.positions import PositionBook, valid
from anagnorisisd.features.places.sidecar_out import PositionWriter
from anagnorisisd.search.query import Query, Token, needs_value
from anagnorisisd.search.set_filters import rows_of

MAX_KM = 20_000.0
PREVIEW = 200
"""A geotag that is not applied lists this many of its matches (the count is whole)."""


def parse_place(query: Query, token: Token) -> None:
    query.add("place", "~", needs_value(token, "place:Lisbon").lower())


def parse_gps(query: Query, token: Token) -> None:
    query.add("gps", "!=" if token.negated else "=", 1.0)


def numbers(token: Token, count: tuple[int, ...], example: str) -> list[float]:
    raw = needs_value(token, example).split(",")
    try:
        values = [float(v) for v in raw]
    except ValueError:
        raise token.error(f"numbers separated by commas, like {example}") from None
    if len(values) not in count or not all(np.isfinite(values)):
        raise token.error(f"like {example}")
    return values


def parse_near(query: Query, token: Token) -> None:
    values = numbers(token, (2, 3), "near:38.72,-9.14,5 (latitude, longitude, km)")
    lat, lon, km = values[0], values[1], values[2] if len(values) == 3 else 1.0
    if not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 < km <= MAX_KM):
        raise token.error(f"latitude -90 to 90, longitude -180 to 180, 0 < km <= {MAX_KM:,.0f}")
    query.add("near", "=", f"{lat},{lon},{km}")


def parse_within(query: Query, token: Token) -> None:
    values = numbers(token, (4,), "within:-10,35,5,44 (west, south, east, north)")
    try:
        box = grid.parse_bbox(",".join(str(v) for v in values))
    except ValueError as exc:
        raise token.error(str(exc).replace("bbox", "within")) from None
    query.add("within", "=", ",".join(str(v) for v in box))


class PlacesFeature(Feature):
    name: ClassVar[str] = "places"
    stages: ClassVar[tuple[str, ...]] = ("meta",)
    config_schema: ClassVar[dict[str, Setting]] = {
        "tile_url": Setting(str, "", "a raster tile server's URL template ({z}/{x}/{y}) "
                                     "for the map; empty: outlines only, nothing leaves "
                                     "the machine")}
    panel: ClassVar[str | None] = "panel.js"
    pages: ClassVar[tuple[str, ...]] = ("map",)
    assets: ClassVar[tuple[str, ...]] = ("vendor/leaflet.js", "vendor/leaflet.css",
                                         "vendor/topojson-client.min.js",
                                         "vendor/countries-110m.json")

    def __init__(self, context: FeatureContext) -> None:
        super().__init__(context)
        self.book = PositionBook(context.store)
        self.out = PositionWriter(context.files_of)
        self.write_xmp = context.config.ratings.write_xmp
        tiles = str(context.section.get("tile_url") or "")
        if tiles and not (tiles.startswith(("https://", "http://")) and all(
                part in tiles for part in ("{z}", "{x}", "{y}"))):
            raise ConfigError(f"{context.config.source}: [features.places] tile_url: an "
                              "http(s) URL with {z}, {x} and {y} in it, or empty")

    @classmethod
    def words(cls) -> Iterable[Word]:
        return [Word("place", "key", "taken near a town, any part of its name: place:Lisbon",
                     parse_place),
                Word("has:gps", "exact", "with a position (-has:gps: without one)", parse_gps,
                     ("gps",), negatable=True),
                Word("near", "key", "taken within some km of a point: near:38.72,-9.14,5",
                     parse_near),
                Word("within", "key", "taken inside a box, W,S,E,N: within:-10,35,5,44",
                     parse_within)]

    def routes(self) -> Iterable[Route]:
        from anagnorisisd.features.places.routes import routes  # the web server's, read by serve

        return routes()

    def load(self) -> None:
        self.book.load()

    def start(self) -> None:
        self.out.start()

    def stop(self) -> None:
        self.out.stop()

    def fill(self, positions: dict[bytes, tuple[float, float]], source: str,
             write: bool = False) -> int:
        """Store these positions, and send them to the sidecars with `[ratings] write_xmp`
        (or when this call asks: geotag --write-xmp)."""
        count = self.book.put(positions, source)
        if self.write_xmp or write:
            self.out.put(positions)
        return count

    def status(self) -> dict[str, Any]:
        sources: dict[str, int] = {}
        for filled in list(self.book.filled.values()):
            sources[filled.source] = sources.get(filled.source, 0) + 1
        return {"places": {"filled": sources,
                           "xmp": {"write": self.write_xmp, **self.out.status()}}}

    def describe(self, content: bytes) -> dict[str, Any]:
        entry = self.context.catalog.get(content)
        if entry is not None and not np.isnan(entry.lat):
            return {"gps": {"lat": entry.lat, "lon": entry.lon, "source": entry.gps_source}}
        filled = self.book.filled.get(content)
        if filled is None:
            return {"gps": None}
        return {"gps": {"lat": filled.lat, "lon": filled.lon, "source": filled.source},
                "place": filled.place or None}

    def match(self, filter_: Any, columns: Any) -> NDArray[np.bool_]:
        seen = self.book.overlay(columns)
        if filter_.field == "place":
            return np.asarray(np.char.find(seen.place, str(filter_.value)) >= 0)
        if filter_.field == "near":
            lat, lon, km = (float(v) for v in str(filter_.value).split(","))
            return grid.near(seen.lat, seen.lon, (lat, lon), km)
        if filter_.field == "within":
            return grid.inside(seen.lat, seen.lon, grid.parse_bbox(str(filter_.value)))
        has = ~np.isnan(seen.lat)
        return np.asarray(has if filter_.op == "=" else ~has)

    # ------------------------------------------------------------------ work
    def clusters(self, box: tuple[float, float, float, float], zoom: int,
                 q: str) -> dict[str, Any]:
        search = self.context.search
        columns = search.catalog.columns()
        seen = self.book.overlay(columns)
        mask = ~columns.failed & columns.ready & ~columns.twin
        if q.strip():
            query = search.parse(q)
            mask &= search.filter_rows(query, columns)
            if query.text or query.negative:
                mask &= rows_of([h.content for h in search.search(query, 1, 500).hits],
                                columns)
        mask &= grid.inside(seen.lat, seen.lon, box)
        rows = np.flatnonzero(mask)
        key = np.nan_to_num(columns.rating, nan=-1.0)
        return {"clusters": grid.clusters(seen.lat, seen.lon, rows, zoom, key, columns.ids,
                                          box), "total": len(rows),
                "tiles": self.context.section.get("tile_url") or None}

    def place_by_hand(self, content: bytes, lat: Any, lon: Any) -> dict[str, Any]:
        position = valid(lat, lon)
        if position is None:
            raise ValueError("lat is -90 to 90 and lon -180 to 180, both numbers")
        entry = self.context.catalog.get(content)
        if entry is not None and not np.isnan(entry.lat):
            raise PermissionError("this photo's own GPS says where it was taken; it is "
                                  "never overwritten")
        self.fill({content: position}, "manual")
        return self.describe(content)

    def proposals(self, max_gap_s: float) -> list[dict[str, Any]]:
        columns = self.context.catalog.columns()
        seen = self.book.overlay(columns)
        return propose(columns, seen.lat, seen.lon, max_gap_s)

    def accept(self, ids: list[str], max_gap_s: float) -> int:
        """Fill the proposals asked for (worked out again now: a proposal that no longer
        holds is not taken)."""
        wanted = set(ids)
        chosen = {bytes.fromhex(p["id"]): (p["lat"], p["lon"])
                  for p in self.proposals(max_gap_s) if p["id"] in wanted}
        return self.fill(chosen, "neighbour") if chosen else 0

    def geotag(self, tracks: list[bytes], offset_s: float | None, max_gap_s: float,
               apply: bool, write_xmp: bool = False) -> dict[str, Any]:
        """Each photo with no position of its own and none given by hand, placed on the
        tracks by its capture time; stored only when `apply`."""
        track = merged([read_gpx(data) for data in tracks])
        columns = self.context.catalog.columns()
        manual = {c for c, f in self.book.filled.items() if f.source == "manual"}
        rows = np.flatnonzero(np.isnan(columns.lat) & ~columns.failed & ~columns.twin)
        rows = np.asarray([r for r in rows if columns.ids[r] not in manual], dtype=np.intp)
        utc = photo_utc(columns, rows, offset_s)
        lat, lon, gap = locate(track, utc, max_gap_s)
        found = np.flatnonzero(~np.isnan(lat))
        matched = [{"id": columns.ids[rows[i]].hex(), "lat": round(float(lat[i]), 6),
                    "lon": round(float(lon[i]), 6), "gap_s": round(float(gap[i]), 1)}
                   for i in found]
        if apply:
            self.fill({columns.ids[rows[i]]: (round(float(lat[i]), 6), round(float(lon[i]), 6))
                       for i in found}, "gpx", write_xmp)
        return {"matched": matched if apply else matched[:PREVIEW], "count": len(matched),
                "unmatched": int(len(rows) - len(found)), "applied": apply,
                "track": {"points": len(track.times)}}
