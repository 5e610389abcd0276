"""What can go wrong with the store, said in one line each."""

from __future__ import annotations

import errno


class StoreError(Exception):
    """The store cannot be used as it is; the message says why in one line."""


class StoreFull(StoreError):
    """A write did not fit: the map or the disk is full. Nothing was written."""


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC, as the OS, LMDB ("No space left on device") or SQLite ("database or disk is
    full") says it."""
    return (getattr(exc, "errno", None) == errno.ENOSPC or "No space left" in str(exc)
            or "disk is full" in str(exc))
