"""Forward migrations of the store's schema, keyed by the version they upgrade *from*.

Each runs inside the single write transaction that also bumps the stored version,
and each has a test that opens a store written by the release before it
(tests/fixtures/stores/schema-N, made by tools/make_store_fixture.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import lmdb

from anagnorisisd.store.errors import StoreError, is_disk_full
from anagnorisisd.store.keys import queue_key, queue_rank
from anagnorisisd.store.records import Mark, key_path, pack, unpack

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


def _order_the_queue(txn: lmdb.Transaction, store: Store) -> None:
    """Schema 2 -> 3: the work queue is worked newest first. Each queued path is given its
    rank by its file's modification time, and its place in the ordered ``queue``."""
    for key, _ in list(txn.cursor(db=store.dirty)):
        raw = txn.get(key, db=store.files)
        mtime_ns = int(unpack(raw)["m"]) if raw is not None else 0
        rank = queue_rank(mtime_ns)
        txn.put(bytes(key), rank, db=store.dirty)
        txn.put(queue_key(rank, key_path(key)), bytes(key), db=store.queue)


MIGRATIONS: dict[int, Callable[[lmdb.Transaction, Store], None]] = {
    1: _migrate_1_to_2, 2: _order_the_queue}


def upgrade(store: Store, readonly: bool, schema: int) -> None:
    """Bring the store to `schema`, every migration in one transaction (a crash leaves the
    old schema whole); StoreError says why it cannot (newer, read-only, full)."""
    with store.env.begin() as txn:
        raw = txn.get(b"schema_version", db=store.meta)
    stored = int(unpack(raw)) if raw is not None else None
    if stored == schema or (stored is None and readonly):
        return
    try:
        with store.env.begin(write=not readonly) as txn:
            if stored is None:
                txn.put(b"schema_version", pack(schema), db=store.meta)
                return
            if stored > schema:
                raise StoreError(
                    f"store at {store.path} has schema {stored}, newer than this anagnorisisd "
                    f"understands ({schema}); upgrade anagnorisisd or use another data_dir")
            if readonly:
                raise StoreError(f"store at {store.path} needs migrating; run "
                                 "'anagnorisisd index'")
            for version in range(stored, schema):
                MIGRATIONS[version](txn, store)
            txn.put(b"schema_version", pack(schema), db=store.meta)
    except lmdb.MapFullError:
        raise StoreError(f"the store at {store.path} is full and could not be upgraded; "
                         "raise [storage] map_size_gb") from None
    except lmdb.Error as exc:
        if is_disk_full(exc):
            raise StoreError(f"the disk holding {store.path} is full; free some space "
                             "and start again") from None
        raise
