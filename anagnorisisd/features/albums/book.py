"""What is kept about albums, in the store, by content, like ratings and answers.

- The albums themselves (name, query for a smart one, when made) in one setting,
  `albums`: a person has tens or hundreds, not millions.
- Per photo (content hash), under user key `albums`: the manual albums it is in, a list
  of album ids. Kept by content, so a move, a rename or a RAW beside its JPEG loses
  nothing; written in one LMDB transaction before a change is acknowledged.
- Per photo, under user key `added`: when the library first held it (seconds since the
  epoch), for `added` (recently added first) and the memories' "recently added".
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from anagnorisisd.foreground import FOREGROUND
from anagnorisisd.store.database import Store
from anagnorisisd.store.records import unpack

ALBUMS_SETTING = "albums"
MEMBERS_KEY = "albums"
ADDED_KEY = "added"


@dataclass
class Album:
    id: str
    name: str
    query: str | None
    created: float

    @property
    def smart(self) -> bool:
        return self.query is not None


def new_album_id() -> str:
    return uuid.uuid4().hex[:12]


class AlbumBook:
    def __init__(self, store: Store) -> None:
        self.store = store

    def load_albums(self) -> dict[str, Album]:
        raw = self.store.get_setting(ALBUMS_SETTING) or {}
        albums = {}
        for aid, rec in raw.items() if isinstance(raw, dict) else ():
            if isinstance(aid, str) and isinstance(rec, dict) and isinstance(
                    rec.get("name"), str):
                query = rec.get("query")
                albums[aid] = Album(aid, rec["name"], query if isinstance(query, str) else None,
                                    float(rec.get("created") or 0.0))
        return albums

    @staticmethod
    def encode(albums: dict[str, Album]) -> dict[str, Any]:
        return {a.id: {"name": a.name, "query": a.query, "created": a.created}
                for a in albums.values()}

    def _user_values(self, key: str) -> Iterator[tuple[bytes, Any]]:
        suffix = key.encode()
        with self.store.env.begin() as txn:
            for raw_key, raw in txn.cursor(db=self.store.user):
                if len(raw_key) == 32 + len(suffix) and bytes(raw_key[32:]) == suffix:
                    yield bytes(raw_key[:32]), unpack(bytes(raw))

    def all_members(self) -> Iterator[tuple[bytes, list[str]]]:
        """Every photo's manual albums, live or not (one pass over the user table)."""
        for content, value in self._user_values(MEMBERS_KEY):
            if isinstance(value, list):
                yield content, [a for a in value if isinstance(a, str)]

    def all_added(self) -> Iterator[tuple[bytes, float]]:
        for content, value in self._user_values(ADDED_KEY):
            if isinstance(value, int | float):
                yield content, float(value)

    def save(self, albums: dict[str, Album], members: dict[bytes, list[str]]) -> None:
        """The albums, and the photos whose albums changed, in one transaction."""
        with self.store.write() as w:
            w.set_setting(ALBUMS_SETTING, self.encode(albums))
            for content, ids in members.items():
                w.set_user(content, MEMBERS_KEY, sorted(ids) or None)

    def save_added(self, added: dict[bytes, float]) -> None:
        """In small transactions with a pause between: a first start dating 100,000 photos
        in one held every rating behind it for seconds (the store takes one write at a time,
        and a lock let go is taken back at once by the thread that let it go). Small in
        time too: on a busy daemon each write waits its turn for the interpreter, and 200
        of them held the store for 50 ms and more (py-spy under the soak's load)."""
        items = list(added.items())
        done = 0
        while done < len(items):
            if done:
                time.sleep(0.005)  # a rating waiting for the store goes first
                FOREGROUND.step_aside()  # and requests being answered (foreground.py)
            with self.store.write() as w:
                began = time.monotonic()
                for content, when in items[done:done + 200]:
                    w.set_user(content, ADDED_KEY, when)
                    done += 1
                    if time.monotonic() - began > 0.01:
                        break
