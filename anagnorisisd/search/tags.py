"""One tag vocabulary: keywords other tools wrote and concepts the person confirmed.

A tag answers to its whole path and to each level of it: a photo keyworded
``Places|Europe|Lisbon`` is found by ``tag:"Lisbon"``, ``tag:"Europe"`` and
``tag:"Places|Europe"``, in any case, as Lightroom and digiKam find a parent keyword's
photos. Each photo's tags are kept by group ("file" for what its files say, "concept"
for confirmed concepts), so a new metadata record replaces the file's keywords without
touching what the person confirmed. A tag query is one dictionary lookup and a pass
over the photos it names, not a pass over the library.
"""

from __future__ import annotations

import threading
from collections import Counter

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
        self._members: dict[str, set[bytes]] = {}
        self._counts: Counter[Tagged] = Counter()

    def put(self, content: bytes, group: str, tags: list[Tagged]) -> None:
        """The photo's tags of one group are now `tags` (none: it has none of that group)."""
        with self._lock:
            held = self._held.setdefault(content, {})
            self._forget(content, held.pop(group, ()))
            if tags:
                held[group] = tuple(tags)
                for tag in held[group]:
                    self._counts[tag] += 1
                    for term in terms_of(tag[0]):
                        self._members.setdefault(term, set()).add(content)
            if not held:
                del self._held[content]
            self._rebuild_members(content, held)

    def drop(self, content: bytes) -> None:
        """A photo gone from the library: its tags stop counting."""
        with self._lock:
            held = self._held.pop(content, {})
            for tags in held.values():
                self._forget(content, tags)
            self._rebuild_members(content, {})

    def _forget(self, content: bytes, tags: tuple[Tagged, ...]) -> None:
        for tag in tags:
            self._counts[tag] -= 1
            if self._counts[tag] <= 0:
                del self._counts[tag]
            for term in terms_of(tag[0]):
                members = self._members.get(term)
                if members is not None:
                    members.discard(content)
                    if not members:
                        del self._members[term]

    def _rebuild_members(self, content: bytes, held: dict[str, tuple[Tagged, ...]]) -> None:
        """Two groups may name the same term (a keyword and a concept both "Rex"); the
        photo stays a member while any group still names it."""
        for tags in held.values():
            for tag in tags:
                for term in terms_of(tag[0]):
                    self._members.setdefault(term, set()).add(content)

    def members(self, name: str) -> set[bytes]:
        """The photos carrying the tag `name` (a path, a path above one, or one level)."""
        with self._lock:
            return set(self._members.get(fold(name), ()))

    def of(self, content: bytes) -> list[Tagged]:
        """One photo's tags, each once (a keyword in two files is one tag)."""
        with self._lock:
            held = self._held.get(content, {})
            return list(dict.fromkeys(tag for tags in held.values() for tag in tags))

    def group_of(self, content: bytes, group: str) -> list[Tagged]:
        """One photo's tags of one group ("file": what its files say)."""
        with self._lock:
            return list(self._held.get(content, {}).get(group, ()))

    def listing(self) -> list[dict[str, object]]:
        """Every tag with its source and how many photos carry it, the most used first."""
        with self._lock:
            counts = list(self._counts.items())
        return [{"name": name, "source": source, "count": count}
                for (name, source), count in sorted(counts, key=lambda t: (-t[1], t[0]))]
