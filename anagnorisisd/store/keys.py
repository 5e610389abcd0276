"""How the store's tables are keyed: paths by their bytes, content by its hash plus a name."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import lmdb

from anagnorisisd.store.records import FileRecord, key_path, path_key


def records_under(txn: lmdb.Transaction, files: Any, prefix: str) -> Iterator[FileRecord]:
    """File records whose path starts with `prefix`, in key order, from one transaction."""
    cur = txn.cursor(db=files)
    start = path_key(prefix)
    if not cur.set_range(start):
        return
    for key, raw in cur:
        if not bytes(key).startswith(start):
            break
        yield FileRecord.decode(key_path(key), raw)


def skipped_key(path: str, max_key_size: int) -> bytes:
    """Paths too long to be keys (the reason some are skipped) are keyed by a digest."""
    key = path_key(path)
    if len(key) <= max_key_size:
        return key
    return b"\xff#" + hashlib.blake2b(key, digest_size=32).digest()


def stage_key(content_hash: bytes, stage: str) -> bytes:
    return content_hash + stage.encode()


RANK_BYTES = 8
_LATEST = (1 << 64) - 1


def queue_rank(mtime_ns: int) -> bytes:
    """Where a file waits in the work queue: newest first (a later modification time sorts
    before an earlier one). Before a file is read, its modification time is the only date
    known, and on a first indexing the newest photos are the ones a person looks for."""
    return (_LATEST - min(max(mtime_ns, 0), _LATEST)).to_bytes(RANK_BYTES, "big")


def rank_time(key: bytes) -> int:
    """The modification time a queue key was ranked by."""
    return _LATEST - int.from_bytes(key[:RANK_BYTES], "big")


def queue_key(rank: bytes | memoryview, path: str) -> bytes:
    """The queue's key: the rank, then a digest of the path (a fixed 24 bytes, so a path as
    long as the store allows still fits in a key with its rank in front)."""
    return bytes(rank) + hashlib.blake2b(path_key(path), digest_size=16).digest()
