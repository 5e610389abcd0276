"""Forward migrations of the store's schema, keyed by the version they upgrade *from*.

Each runs inside the single write transaction that also bumps the stored version,
and each has a test that opens a store written by the release before it
(tests/fixtures/stores/schema-N, made by tools/make_store_fixture.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import lmdb

from anagnorisisd.store.records import Mark, pack, unpack

if TYPE_CHECKING:
    from anagnorisisd.store.database import Store

RATING_HISTORY_LIMIT = 100
"""Rating changes kept per image. The history is for undo and for seeing how a taste
moved, not an audit log; unbounded, 20,000 changes to one image made each change 8x
slower."""


def _trim_rating_histories(txn: lmdb.Transaction, store: Store) -> None:
    """Schema 1 -> 2: bound every rating history, keeping the latest changes."""
    suffix = b"rating-history"
    for key, raw in list(txn.cursor(db=store.user)):
        if bytes(key).endswith(suffix) and len(key) == 32 + len(suffix):
            history = unpack(raw)
            if len(history) > RATING_HISTORY_LIMIT:
                txn.put(bytes(key), pack(history[-RATING_HISTORY_LIMIT:]), db=store.user)


def _forget_vanished_file_failures(txn: lmdb.Transaction, store: Store) -> None:
    """Schema 1 -> 2: a file renamed while a stage read it was marked as failed content for
    good. Such marks describe the path, not the content: drop them so the content is tried
    again (the runner now re-queues a file that changes mid-stage instead)."""
    for key, raw in list(txn.cursor(db=store.marks)):
        mark = Mark.decode(raw)
        if mark.error and ("No such file or directory" in mark.error or "vanished" in mark.error):
            txn.delete(bytes(key), db=store.marks)


def _migrate_1_to_2(txn: lmdb.Transaction, store: Store) -> None:
    _trim_rating_histories(txn, store)
    _forget_vanished_file_failures(txn, store)


MIGRATIONS: dict[int, Callable[[lmdb.Transaction, Store], None]] = {1: _migrate_1_to_2}
