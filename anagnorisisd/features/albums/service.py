"""Albums kept by content: a manual one holds the photos the person put in it; a smart one
holds what its query finds, followed live.

A smart album's members are worked out again on the albums' own thread (``refresh``), not
on each change: a change marks them stale (a few microseconds, on the thread that made it)
and one pass over all smart albums follows within a second, however many changes came
(a burst of ratings, a folder of new photos). Changes the albums hear of no event about
(a person named on the People page) are caught by a pass at least every FULL_PASS_S.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.features.albums.book import Album, AlbumBook, new_album_id
from anagnorisisd.search.query import QueryError
from anagnorisisd.search.set_filters import rows_of
from anagnorisisd.strings import name_problem

MAX_ALBUMS = 1000
MAX_QUERY = 1000
FULL_PASS_S = 10.0
STRONG_PAGE = 100
"""A smart album whose query has free text holds the strong matches among this many."""


class AlbumError(ValueError):
    """A request the albums cannot do (a bad name or query): a 400."""


class AlbumConflict(AlbumError):
    """A request that clashes with the albums as they are (a taken name, photos put in a
    smart album): a 409."""


class NoSuchAlbum(KeyError):
    pass


def fold(name: str) -> str:
    return " ".join(name.split()).casefold()


def clean_name(raw: Any) -> str:
    if not isinstance(raw, str):
        raise AlbumError('an album needs a name: {"name": "Lisbon 2024"}')
    problem = name_problem(raw, "album", '"')
    if problem:
        raise AlbumError(problem)
    return " ".join(raw.split())


class Albums:
    def __init__(self, store: Any, search: Any) -> None:
        self.book = AlbumBook(store)
        self.search = search
        self.albums: dict[str, Album] = {}
        self.manual: dict[str, set[bytes]] = {}
        self.masks: dict[str, tuple[Any, NDArray[np.bool_]]] = {}
        """Album id -> (the catalog's columns, the rows of its photos shown there): from
        the last pass for a smart album, from the last change for a manual one. Valid
        while the catalog keeps those columns (a rating changes them in place; new or
        gone photos make new ones)."""
        self.counts: dict[str, int] = {}
        self.covers: dict[str, str | None] = {}
        self.problems: dict[str, str] = {}
        self.added: dict[bytes, float] = {}
        self.stale = True
        self.refreshes = 0
        self._seen_version = -1
        self._last_pass = 0.0
        self._lock = threading.RLock()  # the albums and their members
        self._pass = threading.Lock()  # one refresh at a time

    # ------------------------------------------------------------------ load
    def load(self) -> None:
        albums = self.book.load_albums()
        manual: dict[str, set[bytes]] = {a: set() for a in albums if not albums[a].smart}
        for content, ids in self.book.all_members():
            for aid in ids:
                if aid in manual:
                    manual[aid].add(content)
        with self._lock:
            self.albums, self.manual = albums, manual
            self.added = dict(self.book.all_added())
            self.stale = True

    # --------------------------------------------------------------- queries
    def get(self, aid: str) -> Album:
        album = self.albums.get(aid)
        if album is None:
            raise NoSuchAlbum(f"no album {aid}")
        return album

    def named(self, name: str) -> Album | None:
        wanted = fold(name)
        return next((a for a in self.albums.values() if fold(a.name) == wanted), None)

    def members(self, aid: str) -> frozenset[bytes]:
        album = self.get(aid)
        if not album.smart:
            return frozenset(self.manual.get(aid, ()))
        columns, mask = self.masks.get(aid, (None, None))
        if columns is None or mask is None:
            return frozenset()
        return frozenset(columns.ids[i] for i in np.flatnonzero(mask))

    def rows(self, aid: str, columns: Any) -> NDArray[np.bool_]:
        """The album's photos as catalog rows of `columns` (what album: answers)."""
        cached, mask = self.masks.get(aid, (None, None))
        if cached is columns and mask is not None:
            return mask
        mask = rows_of(self.members(aid), columns)
        self.masks[aid] = (columns, mask)
        return mask

    def summary(self, aid: str) -> dict[str, Any]:
        album = self.get(aid)
        out = {"id": album.id, "name": album.name, "query": album.query,
               "count": self.counts.get(aid, 0), "cover": self.covers.get(aid),
               "smart": album.smart}
        if aid in self.problems:
            out["problem"] = self.problems[aid]
        return out

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            albums = sorted(self.albums.values(), key=lambda a: fold(a.name))
            return [self.summary(a.id) for a in albums]

    # --------------------------------------------------------------- changes
    def _checked_query(self, raw: Any, name: str) -> str:
        if not isinstance(raw, str) or not raw.strip():
            raise AlbumError('a smart album\'s query is the words of a search, like '
                             '"person:Ana rating>=7"')
        if len(raw) > MAX_QUERY:
            raise AlbumError(f"a smart album's query has at most {MAX_QUERY} characters")
        try:
            query = self.search.parse(raw)
        except QueryError as exc:
            raise AlbumError(f"the query: {exc}") from None
        if any(f.field == "album" and fold(str(f.value)) == fold(name)
               for f in query.filters):
            raise AlbumError("a smart album cannot be made of itself")
        if query.sort == "similar":
            raise AlbumError("a smart album cannot hold similar:ID (it has no end); search "
                             "for it and save what you keep as a manual album")
        return raw.strip()

    def _taken(self, name: str, but: str | None = None) -> None:
        other = self.named(name)
        if other is not None and other.id != but:
            raise AlbumConflict(f'there is already an album named "{other.name}"')

    def create(self, raw_name: Any, raw_query: Any = None) -> Album:
        name = clean_name(raw_name)
        query = None if raw_query is None else self._checked_query(raw_query, name)
        with self._lock:
            self._taken(name)
            if len(self.albums) >= MAX_ALBUMS:
                raise AlbumConflict(f"at most {MAX_ALBUMS} albums")
            album = Album(new_album_id(), name, query, time.time())
            albums = {**self.albums, album.id: album}
            self.book.save(albums, {})
            self.albums = albums
            if query is None:
                self.manual[album.id] = set()
            self.stale = True
        self.refresh(force=True)
        return album

    def update(self, aid: str, raw_name: Any = None, raw_query: Any = None) -> Album:
        with self._lock:
            album = self.get(aid)
            name = album.name if raw_name is None else clean_name(raw_name)
            self._taken(name, but=aid)
            query = album.query
            if raw_query is not None:
                if not album.smart:
                    raise AlbumConflict("a manual album holds the photos you chose; make a "
                                        "smart album for a query")
                query = self._checked_query(raw_query, name)
            changed = Album(aid, name, query, album.created)
            albums = {**self.albums, aid: changed}
            self.book.save(albums, {})
            self.albums = albums
            self.stale = True
        self.refresh(force=True)
        return changed

    def delete(self, aid: str) -> None:
        """The album goes; its photos never do (each loses this album from its list)."""
        with self._lock:
            self.get(aid)
            albums = {k: v for k, v in self.albums.items() if k != aid}
            lists = self._lists(self.manual.get(aid, set()), remove_id=aid)
            self.book.save(albums, lists)
            self.albums = albums
            self.manual.pop(aid, None)
            self.masks.pop(aid, None)
            self.counts.pop(aid, None)

    def _lists(self, contents: Iterable[bytes], add_id: str | None = None,
               remove_id: str | None = None) -> dict[bytes, list[str]]:
        """Each photo's manual albums as they will be."""
        out = {}
        for content in contents:
            ids = {a for a, members in self.manual.items() if content in members}
            if add_id:
                ids.add(add_id)
            ids.discard(remove_id or "")
            out[content] = sorted(ids)
        return out

    def change(self, aid: str, add: list[bytes], remove: list[bytes]) -> int:
        """Put photos in a manual album and take others out, stored before this returns;
        the album's size after."""
        with self._lock:
            album = self.get(aid)
            if album.smart:
                raise AlbumConflict("a smart album holds what its query finds; change the "
                                    "query, or make a manual album")
            members = self.manual.setdefault(aid, set())
            lists = self._lists(set(add) - members, add_id=aid)
            lists.update(self._lists(set(remove) & members - set(add), remove_id=aid))
            self.book.save(self.albums, lists)
            members.update(add)
            members.difference_update(set(remove) - set(add))
            self.stale = True
            self._recount(aid, members)
            return len(members)

    def _recount(self, aid: str, members: set[bytes]) -> None:
        """One manual album's count and cover now, not at the next pass."""
        columns = self.search.catalog.columns()
        mask = rows_of(members, columns) & ~columns.failed & columns.ready & ~columns.twin
        self.masks[aid] = (columns, mask)
        self.counts[aid] = int(mask.sum())
        self.covers[aid] = self.cover(mask, columns)

    def note_added(self, born: list[bytes]) -> None:
        """When each new photo came into the library (the first time only)."""
        now = time.time()
        new = {c: now for c in born if c not in self.added}
        if new:
            self.book.save_added(new)
            self.added.update(new)

    def backfill_added(self, mtimes_of: Any) -> int:
        """Photos held before albums kept this: their files' modification times
        (`mtimes_of(photos)`: photo -> its oldest file's time, in one pass)."""
        missing = {c for c in self.search.catalog.columns().ids if c not in self.added}
        found: dict[bytes, float] = mtimes_of(missing) if missing else {}
        if found:
            self.book.save_added(found)
            self.added.update(found)
        return len(found)

    def mark_stale(self) -> None:
        self.stale = True

    # --------------------------------------------------------------- refresh
    def refresh(self, force: bool = False) -> bool:
        """Work out every smart album's members, and every album's count and cover, if
        anything changed since the last pass (or FULL_PASS_S went by)."""
        catalog = self.search.catalog
        now = time.monotonic()
        if not (force or self.stale or catalog.version != self._seen_version
                or now - self._last_pass >= FULL_PASS_S):
            return False
        with self._pass:
            self.stale = False
            self._seen_version = catalog.version
            self._last_pass = now
            columns = catalog.columns()
            shown = ~columns.failed & columns.ready & ~columns.twin
            with self._lock:
                albums = list(self.albums.values())
            counts, covers, problems = {}, {}, {}
            key = self.cover_key(columns)
            for album in albums:
                mask = None
                if album.smart:
                    try:
                        mask = self.matching(album, columns) & shown
                    except Exception as exc:  # a feature gone, a model away
                        problems[album.id] = str(exc) or type(exc).__name__
                if mask is None:  # a manual album, or a smart one keeping its last members
                    mask = self.rows(album.id, columns) & shown
                self.masks[album.id] = (columns, mask)
                counts[album.id] = int(mask.sum())
                covers[album.id] = self.cover(mask, columns, key)
            with self._lock:
                self.counts.update(counts)
                self.covers.update(covers)
                self.problems = problems
                self.refreshes += 1
        return True

    def matching(self, album: Album, columns: Any) -> NDArray[np.bool_]:
        """The catalog rows its query finds: what passes its words, and of free text the
        strong matches alone (the rest of the library is only ranked after them)."""
        query = self.search.parse(album.query)
        if query.text or query.negative:
            page = self.search.search(query, 1, STRONG_PAGE)
            return rows_of([h.content for h in page.hits[: page.strong or 0]], columns)
        mask: NDArray[np.bool_] = self.search.filter_rows(query, columns)
        return mask

    @staticmethod
    def cover_key(columns: Any) -> NDArray[np.float64]:
        """A photo's claim to be a cover, one number: its rating (yours, else your
        evaluator's), then the newest (capture times are under 10^11 seconds)."""
        rating = np.nan_to_num(columns.rating, nan=-1.0)
        taken = np.nan_to_num(columns.taken, nan=0.0).clip(0, 1e11)
        key: NDArray[np.float64] = rating * 1e12 + taken
        return key

    @staticmethod
    def cover(mask: NDArray[np.bool_], columns: Any,
              key: NDArray[np.float64] | None = None) -> str | None:
        """The album's best-rated photo (yours, else your evaluator's), newest at a tie."""
        if not mask.any():
            return None
        key = Albums.cover_key(columns) if key is None else key
        best = int(np.argmax(np.where(mask, key, -np.inf)))
        return str(columns.ids[best].hex())
