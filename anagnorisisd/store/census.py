"""Live counters for status, exact under concurrent writes (the store applies each commit's
deltas under the write lock; recount swaps in a full count under the same lock)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from anagnorisisd.foreground import aside_every
from anagnorisisd.store.records import unpack

if TYPE_CHECKING:
    import lmdb

CountMark = Callable[["Census", str, bytes | memoryview, int], None]
"""Adds one mark to a census, or takes it away (Store._count_mark: it knows the versions)."""


@dataclass
class Census:
    """Live counters for status, kept exact by applying each commit's deltas.

    Recounting a million records on every status request would burn a core;
    instead a full count runs once at open and every write transaction adds its
    own deltas after it commits.
    """

    files: Counter[str] = field(default_factory=Counter)
    live_content: int = 0
    hashed: int = 0
    stage_done: Counter[str] = field(default_factory=Counter)
    stage_failed: Counter[str] = field(default_factory=Counter)
    stage_blocked: Counter[str] = field(default_factory=Counter)
    """Content a stage will not run on because an earlier stage failed it (Mark.blocked)."""
    file_failed_at: Counter[str] = field(default_factory=Counter)
    counting: bool = False
    """Not counted yet: another thread is making the first count, and these are the counts
    so far (Store.census_snapshot(wait=False): a status at start says so, not waits)."""

    def apply(self, delta: Census) -> None:
        self.files.update(delta.files)
        self.live_content += delta.live_content
        self.hashed += delta.hashed
        self.stage_done.update(delta.stage_done)
        self.stage_failed.update(delta.stage_failed)
        self.stage_blocked.update(delta.stage_blocked)
        self.file_failed_at.update(delta.file_failed_at)

    def copy(self) -> Census:
        fresh = Census()
        fresh.apply(self)
        return fresh


def count_all(txn: lmdb.Transaction, files: lmdb._Database, refs: lmdb._Database,
              marks: lmdb._Database, count_mark: CountMark) -> Census:
    """Everything counted from one read transaction: a second at 100,000 photos, longer
    while requests are answered (it steps aside for them: foreground.py)."""
    census = Census()
    for _, raw in aside_every(txn.cursor(db=files)):
        rec = unpack(raw)
        census.files[rec["st"]] += 1
        census.hashed += rec["h"] is not None
        if rec.get("fs"):
            census.file_failed_at[rec["fs"]] += 1
    live: set[bytes] = set()
    cur = txn.cursor(db=refs)
    for key in aside_every(cur.iternext_nodup(keys=True, values=False)):
        live.add(bytes(key))
    census.live_content = len(live)
    for key, raw in aside_every(txn.cursor(db=marks)):
        content, stage = bytes(key[:32]), bytes(key[32:]).decode()
        if content in live:
            count_mark(census, stage, raw, +1)
    return census
