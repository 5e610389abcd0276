"""One tag vocabulary: keywords other tools wrote and concepts the person confirmed.

A tag answers to its whole path and to each level of it: a photo keyworded
``Places|Europe|Lisbon`` is found by ``tag:"Lisbon"``, ``tag:"Europe"`` and
``tag:"Places|Europe"``, in any case, as Lightroom and digiKam find a parent keyword's
photos. Each photo's tags are kept by group ("file" for what its files say, "concept"
for confirmed concepts), so a new metadata record replaces the file's keywords without
touching what the person confirmed. A tag query is one dictionary lookup and one array
lookup over the photos it names (rows), not a pass over the library.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.imaging.keywords import SEPARATOR

Tagged = tuple[str, str]
"""(name, source): "Places|Europe|Lisbon", "xmp"."""


def terms_of(name: str) -> set[str]:
    """Everything a tag answers to, folded: the path, each path above it, each level."""
    levels = [level.casefold() for level in name.split(SEPARATOR)]
    terms = set(levels)
    terms.update(SEPARATOR.join(levels[:i]) for i in range(1, len(levels) + 1))
    return terms


def fold(name: str) -> str:
    """What a query's tag is compared as: any case, spaces around levels ignored."""
    return SEPARATOR.join(level.strip() for level in name.casefold().split(SEPARATOR))


class TagBook:
    """Which photos carry which tag; written by the catalog and the concepts, read by
    search and GET /api/tags, from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[bytes, dict[str, tuple[Tagged, ...]]] = {}
        self._members: dict[str, set[int]] = {}
        """Term -> the numbers of the photos answering to it (see _number)."""
        self._counts: Counter[Tagged] = Counter()
        self._number: dict[bytes, int] = {}
        """Each photo ever tagged, numbered once: a query turns a term's numbers into the
        catalog's rows with one array lookup (rows), not a dictionary lookup per photo."""
        self._contents: list[bytes] = []
        self._row_map: tuple[object, int, NDArray[np.intp]] | None = None

    def put(self, content: bytes, group: str, tags: list[Tagged]) -> None:
        """The photo's tags of one group are now `tags` (none: it has none of that group).
        A photo's groups are replaced, never changed in place, so `of` reads without the
        lock: a page describes sixty photos, each once a waiting turn for a lock."""
        with self._lock:
            old = self._held.get(content, {})
            self._forget(content, old.get(group, ()))
            held = {name: kept for name, kept in old.items() if name != group}
            if tags:
                held[group] = tuple(tags)
                for tag in held[group]:
                    self._counts[tag] += 1
            if held:
                self._held[content] = held
            else:
                self._held.pop(content, None)
            self._rebuild_members(content, held)

    def drop(self, content: bytes) -> None:
        """A photo gone from the library: its tags stop counting."""
        with self._lock:
            held = self._held.pop(content, {})
            for tags in held.values():
                self._forget(content, tags)
            self._rebuild_members(content, {})

    def _forget(self, content: bytes, tags: tuple[Tagged, ...]) -> None:
        number = self._number.get(content)
        for tag in tags:
            self._counts[tag] -= 1
            if self._counts[tag] <= 0:
                del self._counts[tag]
            for term in terms_of(tag[0]):
                members = self._members.get(term)
                if members is not None and number is not None:
                    members.discard(number)
                    if not members:
                        del self._members[term]

    def _rebuild_members(self, content: bytes, held: dict[str, tuple[Tagged, ...]]) -> None:
        """Two groups may name the same term (a keyword and a concept both "Rex"); the
        photo stays a member while any group still names it."""
        if not held:
            return
        number = self._number.get(content)
        if number is None:
            number = self._number[content] = len(self._contents)
            self._contents.append(content)
        for tags in held.values():
            for tag in tags:
                for term in terms_of(tag[0]):
                    self._members.setdefault(term, set()).add(number)

    def rows(self, name: str, columns: Any) -> NDArray[np.intp]:
        """The catalog rows (of these search.catalog.Columns) of the photos carrying the
        tag: the numbers as an array, through a number -> row map made once per columns."""
        with self._lock:
            numbers = np.fromiter(self._members.get(fold(name), ()), dtype=np.intp)
            cached = self._row_map
            if cached is None or cached[0] is not columns or cached[1] != len(self._contents):
                position = columns.position
                by_number = np.fromiter((position.get(c, -1) for c in self._contents),
                                        dtype=np.intp, count=len(self._contents))
                self._row_map = cached = (columns, len(self._contents), by_number)
        rows = cached[2][numbers]
        out: NDArray[np.intp] = rows[rows >= 0]
        return out

    def of(self, content: bytes) -> list[Tagged]:
        """One photo's tags, each once (a keyword in two files is one tag)."""
        held = self._held.get(content, {})  # never changed once in place (put)
        return list(dict.fromkeys(tag for tags in held.values() for tag in tags))

    def group_of(self, content: bytes, group: str) -> list[Tagged]:
        """One photo's tags of one group ("file": what its files say)."""
        return list(self._held.get(content, {}).get(group, ()))

    def listing(self) -> list[dict[str, object]]:
        """Every tag with its source and how many photos carry it, the most used first."""
        with self._lock:
            counts = list(self._counts.items())
        return [{"name": name, "source": source, "count": count}
                for (name, source), count in sorted(counts, key=lambda t: (-t[1], t[0]))]
