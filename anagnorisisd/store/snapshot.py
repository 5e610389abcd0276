"""Reads that share one read transaction: a load of every photo's records opens one, not six
a photo, and a page of results one, not three an item (each transaction begun lets go of the
interpreter lock, and taking it back waits behind every busy thread)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from anagnorisisd.store.keys import stage_key
from anagnorisisd.store.records import FAILED, Mark, key_path, unpack

if TYPE_CHECKING:
    import lmdb

    from anagnorisisd.store.database import Store


class Snapshot:
    """The store as it was when the transaction began (Store.snapshot)."""

    def __init__(self, store: Store, txn: lmdb.Transaction) -> None:
        self.store = store
        self.txn = txn
        self._refs: lmdb.Cursor | None = None
        """One cursor for every paths_for of the snapshot: opening one a photo was one
        more call that lets go of the interpreter lock, 60 a page."""

    @property
    def txn_id(self) -> int:
        """The last write this snapshot sees (what a file derived from it is stamped with)."""
        return int(self.txn.id())

    def get_mark(self, content_hash: bytes, stage: str) -> Mark | None:
        raw = self.txn.get(stage_key(content_hash, stage), db=self.store.marks)
        return Mark.decode(raw) if raw is not None else None

    def get_result(self, content_hash: bytes, stage: str) -> dict[str, Any] | None:
        raw = self.txn.get(stage_key(content_hash, stage), db=self.store.results)
        return unpack(raw) if raw is not None else None

    def paths_for(self, content_hash: bytes) -> list[str]:
        if self._refs is None:
            self._refs = self.txn.cursor(db=self.store.refs)
        cur = self._refs
        return [key_path(v) for v in cur.iternext_dup()] if cur.set_key(content_hash) else []

    def get_user(self, content_hash: bytes, key: str) -> Any:
        raw = self.txn.get(content_hash + key.encode(), db=self.store.user)
        return unpack(raw) if raw is not None else None

    def live_hashes(self, after: bytes | None = None) -> Iterator[bytes]:
        """Every live content in key order; with `after`, those that sort after it (a pass
        resumed in a later transaction)."""
        cur = self.txn.cursor(db=self.store.refs)
        if after is not None and not cur.set_range(after):
            return
        for key in cur.iternext_nodup(keys=True, values=False):
            if bytes(key) != after:
                yield bytes(key)

    def failed_contents(self) -> set[bytes]:
        """The content of every file whose last trip failed."""
        out = set()
        for _, raw in self.txn.cursor(db=self.store.files):
            record = unpack(raw)
            if record["st"] == FAILED and record["h"] is not None:
                out.add(bytes(record["h"]))
        return out
