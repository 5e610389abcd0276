"""The mutations of the store, each correct on its own inside the caller's transaction."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from anagnorisisd.store.census import Census
from anagnorisisd.store.keys import queue_key, queue_rank, records_under, skipped_key, stage_key
from anagnorisisd.store.migrations import RATING_HISTORY_LIMIT
from anagnorisisd.store.records import (
    DONE,
    FAILED,
    PENDING,
    FileRecord,
    Mark,
    key_path,
    pack,
    path_key,
    unpack,
)

if TYPE_CHECKING:
    import lmdb

    from anagnorisisd.store.database import Store


class Writer:
    """The mutations, each correct on its own inside the caller's transaction."""

    txn: lmdb.Transaction

    def __init__(self, store: Store) -> None:
        self.store = store
        self.delta = Census()
        self.born: list[bytes] = []
        self.died: list[bytes] = []
        self.reshaped = False
        """A file record or a stage's result was written (Store.reshapes)."""

    # -- files
    def file(self, path: str) -> FileRecord | None:
        raw = self.txn.get(path_key(path), db=self.store.files)
        return FileRecord.decode(path, raw) if raw is not None else None

    def _put_file(self, old: FileRecord | None, new: FileRecord) -> None:
        if old is not None:
            self._count_file(old, -1)
            if old.hash != new.hash and old.hash is not None:
                self._unref(old.hash, old.path)
        self._count_file(new, +1)
        if new.hash is not None and (old is None or old.hash != new.hash):
            self._ref(new.hash, new.path)
        self.reshaped = True
        self.txn.put(path_key(new.path), new.encode(), db=self.store.files)

    def _count_file(self, rec: FileRecord, sign: int) -> None:
        self.delta.files[rec.state] += sign
        self.delta.hashed += sign * (rec.hash is not None)
        if rec.fail_stage:
            self.delta.file_failed_at[rec.fail_stage] += sign

    def _drop_file(self, rec: FileRecord) -> None:
        self._count_file(rec, -1)
        if rec.hash is not None:
            self._unref(rec.hash, rec.path)
        self.reshaped = True
        self.txn.delete(path_key(rec.path), db=self.store.files)
        self._dequeue(rec.path)

    def _enqueue(self, path: str, mtime_ns: int) -> None:
        """Queue a path for the pipeline, in its place by date (keys.queue_rank)."""
        self._dequeue(path)
        rank = queue_rank(mtime_ns)
        self.txn.put(path_key(path), rank, db=self.store.dirty)
        self.txn.put(queue_key(rank, path), path_key(path), db=self.store.queue)

    def _dequeue(self, path: str) -> bool:
        """Take a path off the queue; whether it was queued."""
        rank = self.txn.get(path_key(path), db=self.store.dirty)
        if rank is None:
            return False
        self.txn.delete(queue_key(rank, path), db=self.store.queue)
        self.txn.delete(path_key(path), db=self.store.dirty)
        return True

    def seen(self, path: str, size: int, mtime_ns: int,
             sidecar: tuple[int, ...] | None = None) -> bool:
        """Record a stat observation (with its sidecars' fingerprint, when looked at); queue
        the file if it is new or changed, or, for a photo whose sidecar another tool wrote
        since the last look, have the stages that read sidecars read it again."""
        if len(path_key(path)) > self.store.max_key_size:
            self.skip(path, f"its path is longer than the store's {self.store.max_key_size}-byte "
                      "key limit")
            return False
        self.unskip(path)
        old = self.file(path)
        if old is not None and (old.size, old.mtime_ns) == (size, mtime_ns):
            if sidecar is None or old.sidecar == sidecar:
                return False
            self._put_file(old, replace(old, sidecar=sidecar))
            if old.sidecar is None or old.hash is None:
                return False  # first look (or not hashed yet): its trip reads them anyway
            for stage in self.store.sidecar_stages:
                self.stale(old.hash, stage)
            return bool(self.requeue(path))
        gen = old.gen + 1 if old else 1
        self._put_file(old, FileRecord(path, size, mtime_ns, None, PENDING, gen,
                                       sidecar=sidecar))
        self._enqueue(path, mtime_ns)
        return True

    def stale(self, content_hash: bytes, stage: str) -> None:
        """Have `stage` run on this content again (a sidecar it reads changed) while its
        last output stays in place until the new one replaces it."""
        key = stage_key(content_hash, stage)
        raw = self.txn.get(key, db=self.store.marks)
        if raw is None or Mark.decode(raw).version == "":
            return
        if self.txn.get(content_hash, db=self.store.refs) is not None:
            self.store._count_mark(self.delta, stage, raw, -1)
        self.txn.put(key, Mark("").encode(), db=self.store.marks)

    def skip(self, path: str, reason: str) -> None:
        """Record why an entry is not indexed (and forget any record it had)."""
        self.remove(path)
        key = skipped_key(path, self.store.max_key_size)
        self.txn.put(key, pack({"p": path, "r": reason, "at": time.time()}),
                     db=self.store.skipped)

    def unskip(self, path: str) -> None:
        self.txn.delete(skipped_key(path, self.store.max_key_size), db=self.store.skipped)

    def forget_skipped_under(self, folder: str) -> int:
        """Drop the skip notes for a folder and everything in it (a scan about to record
        them afresh)."""
        prefix = folder.rstrip(os.sep) + os.sep
        doomed = [bytes(k) for k, raw in self.txn.cursor(db=self.store.skipped)
                  if (p := str(unpack(raw)["p"])) == folder or p.startswith(prefix)]
        for key in doomed:
            self.txn.delete(key, db=self.store.skipped)
        return len(doomed)

    def requeue(self, path: str) -> int:
        old = self.file(path)
        if old is None:
            return 0
        new = replace(old, state=PENDING, gen=old.gen + 1, fail_stage=None, fail_reason=None)
        self._put_file(old, new)
        self._enqueue(path, old.mtime_ns)
        return 1

    def remove(self, path: str, gen: int | None = None) -> bool:
        """Forget a path (only at generation `gen`, when given: a file that vanished mid-stage
        is forgotten unless it has been seen again since)."""
        old = self.file(path)
        if old is None or (gen is not None and old.gen != gen):
            return False
        self._drop_file(old)
        return True

    def remove_tree(self, prefix: str) -> int:
        """Remove every record under a directory (prefix ends with the separator)."""
        doomed = [rec for rec in self._records_under(prefix)]
        for rec in doomed:
            self._drop_file(rec)
        return len(doomed)

    def move(self, src: str, dst: str) -> bool:
        """Re-key a file record; content, results and user data stay where they are."""
        old = self.file(src)
        if old is None or src == dst or len(path_key(dst)) > self.store.max_key_size:
            return False
        existing = self.file(dst)
        if existing is not None:
            self._drop_file(existing)
        was_dirty = self.txn.get(path_key(src), db=self.store.dirty) is not None
        self._drop_file(old)
        moved = replace(old, path=dst, gen=old.gen + 1, sidecar=None)
        self._put_file(None, moved)
        if was_dirty:
            self._enqueue(dst, moved.mtime_ns)
        return True

    def move_tree(self, src_prefix: str, dst_prefix: str) -> int:
        moved = 0
        for rec in list(self._records_under(src_prefix)):
            moved += self.move(rec.path, dst_prefix + rec.path[len(src_prefix) :])
        return moved

    def _records_under(self, prefix: str) -> Iterator[FileRecord]:
        return records_under(self.txn, self.store.files, prefix)

    def set_hash(self, path: str, gen: int, content_hash: bytes, size: int, mtime_ns: int) -> bool:
        """Attach content to a path, unless the file changed since the work began."""
        old = self.file(path)
        if old is None or old.gen != gen:
            return False
        new = replace(old, size=size, mtime_ns=mtime_ns, hash=content_hash, state=PENDING,
                      fail_stage=None, fail_reason=None)
        self._put_file(old, new)
        return True

    def finish(self, path: str, gen: int, failure: tuple[str, str] | None) -> bool:
        """Close a file's trip through the pipeline and take it off the queue."""
        old = self.file(path)
        if old is None or old.gen != gen:
            return False
        stage, reason = failure if failure else (None, None)
        new = replace(old, state=FAILED if failure else DONE, fail_stage=stage,
                      fail_reason=reason)
        self._put_file(old, new)
        self._dequeue(path)
        if old.hash is not None:
            self._settle_blocked(old.hash, stage)
        return True

    def _settle_blocked(self, content_hash: bytes, failed: str | None) -> None:
        """After a trip: with a failure, every content stage that has no current mark will
        not run on this content (Mark.blocked), so it is not pending there; without one,
        blocks left from an earlier trip are lifted, and those stages run again."""
        live = self.txn.get(content_hash, db=self.store.refs) is not None
        for stage, version in self.store.stage_versions.items():
            key = stage_key(content_hash, stage)
            raw = self.txn.get(key, db=self.store.marks)
            mark = Mark.decode(raw) if raw is not None else None
            if failed is not None and stage != failed and (
                    mark is None or mark.version != version):
                new = Mark(version, blocked=failed).encode()
                if live:
                    if raw is not None:
                        self.store._count_mark(self.delta, stage, raw, -1)
                    self.store._count_mark(self.delta, stage, new, +1)
                self.txn.put(key, new, db=self.store.marks)
            elif failed is None and raw is not None and mark is not None and mark.blocked:
                if live:
                    self.store._count_mark(self.delta, stage, raw, -1)
                self.txn.delete(key, db=self.store.marks)

    # -- content
    def paths_for(self, content_hash: bytes) -> list[str]:
        cur = self.txn.cursor(db=self.store.refs)
        if not cur.set_key(content_hash):
            return []
        return [key_path(v) for v in cur.iternext_dup()]

    def _ref(self, content_hash: bytes, path: str) -> None:
        first = self.txn.get(content_hash, db=self.store.refs) is None
        self.txn.put(content_hash, path_key(path), db=self.store.refs, dupdata=True)
        if first:
            self.delta.live_content += 1
            self._count_marks(content_hash, +1)
            self.born.append(content_hash)

    def _unref(self, content_hash: bytes, path: str) -> None:
        self.txn.delete(content_hash, path_key(path), db=self.store.refs)
        if self.txn.get(content_hash, db=self.store.refs) is None:
            self.delta.live_content -= 1
            self._count_marks(content_hash, -1)
            self.died.append(content_hash)

    def _count_marks(self, content_hash: bytes, sign: int) -> None:
        cur = self.txn.cursor(db=self.store.marks)
        if not cur.set_range(content_hash):
            return
        for key, raw in cur:
            if not bytes(key).startswith(content_hash):
                break
            stage = bytes(key[32:]).decode()
            self.store._count_mark(self.delta, stage, raw, sign)

    def put_result(
        self, content_hash: bytes, stage: str, version: str, output: dict[str, Any] | None,
        error: str | None = None, packed: bytes | None = None, blocked: str | None = None,
    ) -> None:
        """Store a stage's outcome for content: its output, or the reason it failed.
        `packed`: the output already packed (records.packed_or_reason), so the bytes are
        not made twice, and not while the write lock is held. `blocked`: the stage whose
        failure keeps this one from running on the content (Mark.blocked)."""
        key = stage_key(content_hash, stage)
        live = self.txn.get(content_hash, db=self.store.refs) is not None
        old = self.txn.get(key, db=self.store.marks)
        new = Mark(version, error, blocked).encode()
        if live:
            if old is not None:
                self.store._count_mark(self.delta, stage, old, -1)
            self.store._count_mark(self.delta, stage, new, +1)
        self.txn.put(key, new, db=self.store.marks)
        self.reshaped = True
        if output is None:
            self.txn.delete(key, db=self.store.results)
        else:
            self.txn.put(key, packed if packed is not None else pack(output),
                         db=self.store.results)

    # -- user data (never garbage-collected: it is the person's work)
    def set_rating(self, content_hash: bytes, value: float | None, at: float) -> None:
        """Set (or clear, with None) a rating; every change is kept in the history."""
        key = content_hash + b"rating"
        if value is None:
            self.txn.delete(key, db=self.store.user)
        else:
            self.txn.put(key, pack({"value": value, "at": at}), db=self.store.user)
        history_key = content_hash + b"rating-history"
        raw = self.txn.get(history_key, db=self.store.user)
        history = unpack(raw) if raw is not None else []
        history.append({"value": value, "at": at})
        self.txn.put(history_key, pack(history[-RATING_HISTORY_LIMIT:]), db=self.store.user)

    def set_review(self, content_hash: bytes, review: dict[str, Any] | None) -> None:
        """What the person decided in the cull view ({"decision", "seen_at"}); None clears."""
        key = content_hash + b"review"
        if review is None:
            self.txn.delete(key, db=self.store.user)
        else:
            self.txn.put(key, pack(review), db=self.store.user)

    def set_user(self, content_hash: bytes, key: str, value: Any) -> None:
        """Other per-content user data (who is in the photo, say); None deletes it."""
        if value is None:
            self.txn.delete(content_hash + key.encode(), db=self.store.user)
        else:
            self.txn.put(content_hash + key.encode(), pack(value), db=self.store.user)

    def set_prediction(self, content_hash: bytes, value: float, model: str) -> None:
        self.txn.put(content_hash + b"prediction", pack({"value": value, "model": model}),
                     db=self.store.user)

    def set_setting(self, name: str, value: Any) -> None:
        self.txn.put(b"setting:" + name.encode(), pack(value), db=self.store.meta)

    def delete_setting(self, name: str) -> None:
        self.txn.delete(b"setting:" + name.encode(), db=self.store.meta)
