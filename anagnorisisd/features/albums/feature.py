"""The albums feature: `album:"Name"` and `-album:"Name"`, the `added` sort (recently
added first), manual albums kept by content, smart albums that follow their query, and
memories of this day in the years before (service.py, memories.py, routes.py)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.events import ContentChanged, FlagsAdopted, FlagsChanged, Hub, StageResult
from anagnorisisd.feature import Feature, FeatureContext, Route, Word
from anagnorisisd.features.albums.memories import on_this_day
from anagnorisisd.features.albums.service import Albums
from anagnorisisd.foreground import aside_every
from anagnorisisd.ingest.sidecars import sidecar_names
from anagnorisisd.search.query import Query, QueryError, Token

REFRESH_S = 1.0


def parse_album(query: Query, token: Token) -> None:
    name = token.value.strip()
    if not name:
        raise token.error('album: needs a name, like album:"Lisbon 2024"')
    query.add("album", "!=" if token.negated else "=", name)


class AlbumsFeature(Feature):
    name: ClassVar[str] = "albums"
    panel: ClassVar[str | None] = "panel.js"
    pages: ClassVar[tuple[str, ...]] = ("albums",)

    def __init__(self, context: FeatureContext) -> None:
        super().__init__(context)
        self.albums = Albums(context.store, context.search)
        self._backfilled = False

    @classmethod
    def words(cls) -> Iterable[Word]:
        return [Word("album", "key", 'in an album, manual or smart: album:"Lisbon 2024"; '
                     '-album:"Lisbon 2024" not in it', parse_album, negatable=True),
                Word("added", "sort", "recently added first")]

    def routes(self) -> Iterable[Route]:
        from anagnorisisd.features.albums.routes import routes  # the web server's, read by serve

        return routes()

    def subscribe(self, hub: Hub) -> None:
        albums = self.albums

        def born(event: ContentChanged) -> None:
            albums.note_added(event.born)
            albums.mark_stale()

        hub.subscribe(ContentChanged, born, "albums: when photos came, and smart albums")
        for event in (StageResult, FlagsChanged, FlagsAdopted):
            hub.subscribe(event, lambda _e: albums.mark_stale(),
                          "albums: smart albums follow their queries")

    def load(self) -> None:
        self.albums.load()
        self.albums.refresh(force=True)

    def start(self) -> None:
        self.context.schedule(self.tick, REFRESH_S, "albums: smart albums follow their queries")

    def tick(self) -> None:
        if not self._backfilled:
            self._backfilled = True
            self.albums.backfill_added(self.mtimes_of)
        self.albums.refresh()

    def mtimes_of(self, photos: set[bytes]) -> dict[bytes, float]:
        """Each photo's oldest file's modification time, from one pass over the file
        records (a lookup per photo was seconds of a 100,000-photo library's first start)."""
        times: dict[bytes, float] = {}
        for record in aside_every(self.context.store.iter_files()):  # foreground.py
            if record.hash in photos:
                mtime = record.mtime_ns / 1e9
                times[record.hash] = min(mtime, times.get(record.hash, mtime))
        return times

    def status(self) -> dict[str, Any]:
        albums = self.albums
        return {"albums": {"albums": len(albums.albums),
                           "smart": sum(a.smart for a in albums.albums.values()),
                           "refreshes": albums.refreshes, "problems": dict(albums.problems)}}

    def describe(self, content: bytes) -> dict[str, Any]:
        albums = self.albums
        return {"albums": sorted(albums.albums[a].name for a, members in albums.manual.items()
                                 if content in members and a in albums.albums)}

    def match(self, filter_: Any, columns: Any) -> NDArray[np.bool_]:
        album = self.albums.named(str(filter_.value))
        if album is None:
            raise QueryError(f'no album named "{filter_.value}" (GET /api/albums lists them)',
                             f"album:{filter_.value}", 0)
        passing = self.albums.rows(album.id, columns)
        return ~passing if filter_.op == "!=" else passing

    def order(self, mode: str, columns: Any, rows: NDArray[np.intp],
              descending: bool) -> NDArray[np.intp]:
        """When each came, newest first; photos from before albums kept it (none, once the
        backfill ran) last."""
        added = self.albums.added
        when = np.fromiter((added.get(columns.ids[i], -np.inf) for i in rows),
                           dtype=np.float64, count=len(rows))
        key = -when if descending else when
        return rows[np.lexsort((columns.id_array[rows], key))]

    def files(self, aid: str) -> list[dict[str, Any]]:
        """Each photo of the album: its files (a RAW's JPEG too) and their sidecars."""
        out = []
        for content in sorted(self.albums.members(aid)):
            paths = self.context.files_of(content)
            sidecars = sorted({s for p in paths for s in sidecar_names(p)
                               if os.path.isfile(s)})
            out.append({"id": content.hex(), "paths": paths, "sidecars": sidecars})
        return out

    def memories(self, day: dt.date) -> list[dict[str, Any]]:
        columns = self.context.catalog.columns()
        shown = ~columns.failed & columns.ready & ~columns.twin
        return on_this_day(day, columns, shown, self.context.search.vector)
