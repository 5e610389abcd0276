"""The content-addressed store: LMDB with msgpack values.

Layout (named databases):

- ``meta``:    schema version and small settings (the library paths set through the API).
- ``files``:   path -> FileRecord. The only thing keyed by path.
- ``refs``:    content hash -> path, one duplicate per path (dupsort). Tells which
               content is live and where it lives.
- ``dirty``:   path -> its rank in ``queue``. The durable work queue: a path stays
               here until the pipeline has finished with the exact version of the
               file it saw.
- ``queue``:   rank + path digest -> path: the same queue in the order it is worked
               through, newest file first (keys.queue_rank).
- ``marks``:   hash + stage name -> Mark (version, error). Cheap to scan.
- ``results``: hash + stage name -> the stage's output (may hold blobs).
- ``user``:    hash + key -> user data such as ratings; never garbage-collected.
- ``skipped``: path -> why the scan or the watcher left an entry alone (a FIFO, a
               symlink out of the library, an unreadable folder...), so that every
               file the daemon does not index is listed with its reason.

Paths are keyed by their bytes on disk (``records.path_key``), so names that are
not valid UTF-8 are stored and shown like any other.

Everything derived from content hangs off the hash, so a move or rename only
rewrites ``files``/``refs``. Every mutation happens inside one LMDB write
transaction, so a ``kill -9`` leaves either the old or the new state and the
``dirty`` queue says what to resume.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lmdb

from anagnorisisd.events import ContentChanged, Hub
from anagnorisisd.foreground import aside_every
from anagnorisisd.store.census import Census, count_all
from anagnorisisd.store.errors import StoreError, StoreFull, is_disk_full
from anagnorisisd.store.keys import rank_time, records_under, stage_key
from anagnorisisd.store.migrations import upgrade
from anagnorisisd.store.records import FAILED, FileRecord, Mark, key_path, path_key, unpack
from anagnorisisd.store.room import bulk_room, map_size_for
from anagnorisisd.store.snapshot import Snapshot
from anagnorisisd.store.together import WriteGroup
from anagnorisisd.store.writer import Writer

__all__ = ["Store", "StoreError", "StoreFull"]
log = logging.getLogger(__name__)
SCHEMA_VERSION = 3
VERSIONS_SETTING = "stage.versions"


class Store:
    """One LMDB environment per data dir; safe to share between threads."""

    def __init__(self, data_dir: Path, map_size_gb: float = 256, readonly: bool = False,
                 lock: bool = True, hub: Hub | None = None) -> None:
        self.path = Path(data_dir) / "store.lmdb"
        self.readonly = readonly
        if not map_size_gb > 0:
            raise StoreError(f"[storage] map_size_gb must be above 0, got {map_size_gb}")
        if not readonly:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the store at {self.path}: "
                                 f"{exc.strerror or exc}") from None
        elif not (self.path / "data.mdb").exists():
            raise StoreError(f"no store at {self.path}; run 'anagnorisisd index' or 'serve' first")
        map_size = map_size_for(self.path, int(map_size_gb * (1 << 30)), readonly)
        try:
            self.env = lmdb.open(
                str(self.path),
                map_size=map_size,
                max_dbs=16,
                readonly=readonly,
                # lock=False only read-only on a disk with no room, by the one holder of the
                # data directory: LMDB's lock file is written through a map, and a write to
                # a page a full disk cannot back kills the process (SIGBUS), not an error.
                lock=lock,
                max_readers=256,
                # Data pages are flushed at every commit, the meta page is not: a power cut
                # can undo the last commit but never corrupts the store, and the durable
                # queue redoes whatever was undone. Half the fsyncs of the default.
                metasync=False,
            )
        except (lmdb.Error, OSError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc).split(":")[-1].strip()
            raise StoreError(f"cannot open the store at {self.path}: {reason}") from None
        create = not readonly
        self.meta = self.env.open_db(b"meta", create=create)
        self.files = self.env.open_db(b"files", create=create)
        self.refs = self.env.open_db(b"refs", dupsort=True, create=create)
        self.dirty = self.env.open_db(b"dirty", create=create)
        try:
            self.queue = self.env.open_db(b"queue", create=create)
        except lmdb.NotFoundError:  # an older store opened read-only
            raise StoreError(f"store at {self.path} needs migrating; run 'anagnorisisd "
                             "index'") from None
        self.marks = self.env.open_db(b"marks", create=create)
        self.results = self.env.open_db(b"results", create=create)
        self.user = self.env.open_db(b"user", create=create)
        self.skipped = self.env.open_db(b"skipped", create=create)
        self.max_key_size = self.env.max_key_size()
        self._census_lock = threading.Lock()
        # Held across each write and its census update, and by recount: no commit missed
        self._write_lock = threading.Lock()
        self.together = WriteGroup(self)  # small writes from request threads: one commit
        self._recount_lock = threading.RLock()  # census_snapshot holds it around recount
        self._since_snapshot: list[Census] | None = None
        """While a recount counts: the census deltas of the commits since its snapshot."""
        self.full: str | None = None  # why bulk writes are paused, while they are
        self.closed = False
        self.reshapes = 0  # commits that wrote files or results (not ratings): pair_watch
        self.stage_versions: dict[str, str] = {}
        self.sidecar_stages: tuple[str, ...] = ()
        """The stages that read a photo's sidecars (Stage.reads_sidecars): run again when
        another tool changes one (Writer.seen)."""
        self.census = Census()
        self._counted = False
        """Whether `census` holds a count: the first count waits for its first reader (a
        command that only searches never counts 100,000 records)."""
        self.hub = hub or Hub()
        """Told ContentChanged after each commit that brought contents to life or let
        them die."""
        self._check_schema(readonly)

    # ----------------------------------------------------------------- schema
    def room_for_bulk(self) -> bool:
        """Whether bulk (pipeline) writes may go on (room.bulk_room); sets ``full`` to the
        reason when they may not."""
        self.full = bulk_room(self.env, self.path)
        return self.full is None

    def _check_schema(self, readonly: bool) -> None:
        """At schema SCHEMA_VERSION, migrated if older (store.migrations)."""
        upgrade(self, readonly, SCHEMA_VERSION)

    def schema_version(self) -> int:
        with self.env.begin() as txn:
            raw = txn.get(b"schema_version", db=self.meta)
            return int(unpack(raw)) if raw is not None else SCHEMA_VERSION

    def close(self) -> None:
        """Close after any write in progress; a write asked for later is a StoreError (a
        stage thread still busy when the daemon stopped), never a use of a closed map."""
        with self._write_lock:
            if self.closed:
                return
            self.closed = True
            if not self.readonly:
                self.env.sync(True)
            self.env.close()

    # ------------------------------------------------------------------ census
    def set_stage_versions(self, versions: dict[str, str], remember: bool = True) -> None:
        """Tell the store which stage versions are current; recount if they changed (the
        counts are kept exact otherwise). Remembered (`remembered_versions`): a status read
        with no daemon counts against what the daemon ran, models loadable or not."""
        counted = self._counted and versions == self.stage_versions
        self.stage_versions = dict(versions)
        if remember and not self.readonly and self.get_setting(VERSIONS_SETTING) != versions:
            try:
                with self.write() as w:
                    w.set_setting(VERSIONS_SETTING, self.stage_versions)
            except StoreFull:
                pass  # counting goes on; the next start remembers them
        if not counted:  # a stage that only became ready: 100,000 photos' marks unread
            self.recount()

    def remembered_versions(self) -> dict[str, str]:
        """The stage versions the last daemon or `index` ran with."""
        stored = self.get_setting(VERSIONS_SETTING)
        return {str(k): str(v) for k, v in stored.items()} if isinstance(stored, dict) else {}

    def recount(self) -> None:
        """Count everything again, from a snapshot, without holding writes up (at 100,000
        photos a count takes seconds, and every rating would wait for it): the commits that
        land while it counts are kept and applied on top, so the counters stay exact."""
        with self._recount_lock:
            with self._write_lock:  # no commit between the snapshot and the recording
                txn = self.env.begin()
                self._since_snapshot = []
            try:
                census = self._count(txn)
            except BaseException:
                with self._write_lock:
                    self._since_snapshot = None
                raise
            finally:
                txn.abort()
            with self._write_lock:
                for delta in self._since_snapshot or []:
                    census.apply(delta)
                self._since_snapshot = None
                with self._census_lock:
                    self.census, self._counted = census, True

    def _count(self, txn: lmdb.Transaction) -> Census:
        return count_all(txn, self.files, self.refs, self.marks, self._count_mark)

    def _count_mark(self, census: Census, stage: str, raw: bytes | memoryview,
                    sign: int) -> None:
        mark = Mark.decode(raw)
        if self.stage_versions.get(stage) != mark.version:
            return
        counter = (census.stage_blocked if mark.blocked else
                   census.stage_failed if mark.error else census.stage_done)
        counter[stage] += sign

    def census_snapshot(self, wait: bool = True) -> Census:
        """The counters; counted first if they never were. Without `wait` a count another
        thread makes is not waited for (a status at start: it steps aside for requests)."""
        if not self._counted:
            if not self._recount_lock.acquire(blocking=wait):
                with self._census_lock:
                    so_far = self.census.copy()
                so_far.counting = True
                return so_far
            try:
                if not self._counted:  # ten callers at start: one count
                    self.recount()
            finally:
                self._recount_lock.release()
        with self._census_lock:
            return self.census.copy()

    # ------------------------------------------------------------------ writes
    @contextmanager
    def write(self, first: bool = False) -> Iterator[Writer]:
        """One write transaction; census deltas land, and the hub hears of content that came
        to life or died, only if it commits. `first`: a person's, waited for by the rest."""
        if self.readonly:  # opened read-only (a full disk at start): said, never a crash
            raise StoreFull(self.full or "the store is open read-only")
        writer = Writer(self)
        self.together.before_lock(first)
        with self._write_lock:
            self.together.after_lock(first)
            if self.closed:
                raise StoreError("the store is closed (the daemon is stopping)")
            try:
                with self.env.begin(write=True) as txn:
                    writer.txn = txn
                    yield writer
            except lmdb.MapFullError:
                self.full = ("the store is full; indexing is paused; restart the daemon to grow "
                             "it, or raise [storage] map_size_gb")
                raise StoreFull(self.full) from None
            except lmdb.Error as exc:
                if not is_disk_full(exc):
                    raise
                self.full = f"the disk holding {self.path} is full; indexing is paused"
                raise StoreFull(self.full) from None
            with self._census_lock:
                self.census.apply(writer.delta)
                self.reshapes += writer.reshaped
            if self._since_snapshot is not None:  # a recount is counting: it adds this on
                self._since_snapshot.append(writer.delta)
        if writer.born or writer.died:
            self.hub.publish(ContentChanged(writer.born, writer.died))

    # ------------------------------------------------------------------- reads
    def get_file(self, path: str) -> FileRecord | None:
        with self.env.begin() as txn:
            raw = txn.get(path_key(path), db=self.files)
            return FileRecord.decode(path, raw) if raw is not None else None

    def iter_files(self, prefix: str = "") -> Iterator[FileRecord]:
        """All file records (under a path prefix), read in one snapshot."""
        with self.env.begin() as txn:
            yield from records_under(txn, self.files, prefix)

    def stat_index(self) -> dict[str, tuple[int, int, tuple[int, ...] | None]]:
        """path -> (size, mtime_ns, sidecar fingerprint) for every record: what a rescan
        compares against."""
        with self.env.begin() as txn:
            out: dict[str, tuple[int, int, tuple[int, ...] | None]] = {}
            for key, raw in aside_every(txn.cursor(db=self.files)):  # foreground.py
                rec = unpack(raw)
                sidecar = rec.get("x")
                out[key_path(key)] = (rec["s"], rec["m"],
                                      tuple(sidecar) if sidecar is not None else None)
            return out

    def dirty_paths(self, limit: int = 256) -> list[str]:
        """The first `limit` queued paths, newest first."""
        return [path for _, path in self.queued(limit=limit)]

    def queued(self, after: bytes = b"", limit: int = 256) -> list[tuple[bytes, str]]:
        """Up to `limit` (queue key, path), newest first, after the given key (the feeder's
        place in its pass)."""
        with self.env.begin() as txn:
            cur = txn.cursor(db=self.queue)
            found = cur.set_range(after)
            if found and after and bytes(cur.key()) == after:
                found = cur.next()
            out: list[tuple[bytes, str]] = []
            while found and len(out) < limit:
                out.append((bytes(cur.key()), key_path(cur.value())))
                found = cur.next()
            return out

    def newest_queued_ns(self) -> int | None:
        """The modification time of the newest file still queued: with the queue worked
        newest first, every file newer than it has been through the pipeline."""
        with self.env.begin() as txn:
            cur = txn.cursor(db=self.queue)
            return rank_time(bytes(cur.key())) if cur.first() else None

    def dirty_count(self) -> int:
        with self.env.begin() as txn:
            return int(txn.stat(self.dirty)["entries"])

    @contextmanager
    def snapshot(self) -> Iterator[Snapshot]:
        """Many reads from one read transaction (the catalog's load)."""
        with self.env.begin() as txn:
            yield Snapshot(self, txn)

    def last_txn(self) -> int:
        """The last write committed: what files derived from the store are stamped with."""
        return int(self.env.info()["last_txnid"])

    def identity(self) -> str:
        """This store, not another one made at the same path since (its data file's inode)."""
        data = os.stat(self.path / "data.mdb")
        return f"{data.st_dev}.{data.st_ino}"

    def get_mark(self, content_hash: bytes, stage: str) -> Mark | None:
        with self.env.begin() as txn:
            raw = txn.get(stage_key(content_hash, stage), db=self.marks)
            return Mark.decode(raw) if raw is not None else None

    def get_result(self, content_hash: bytes, stage: str) -> dict[str, Any] | None:
        with self.env.begin() as txn:
            raw = txn.get(stage_key(content_hash, stage), db=self.results)
            return unpack(raw) if raw is not None else None

    def content_record(self, content_hash: bytes) -> dict[str, dict[str, Any]]:
        """Every stage's mark and output for one piece of content."""
        out: dict[str, dict[str, Any]] = {}
        with self.env.begin() as txn:
            for db, field_name in ((self.marks, "mark"), (self.results, "output")):
                cur = txn.cursor(db=db)
                if not cur.set_range(content_hash):
                    continue
                for key, raw in cur:
                    if not bytes(key).startswith(content_hash):
                        break
                    stage = bytes(key[32:]).decode()
                    value = Mark.decode(raw).__dict__ if db is self.marks else unpack(raw)
                    out.setdefault(stage, {})[field_name] = value
        return out

    def paths_for(self, content_hash: bytes) -> list[str]:
        with self.snapshot() as reads:
            return reads.paths_for(content_hash)

    def live_hashes(self) -> Iterator[bytes]:
        with self.env.begin() as txn:
            cur = txn.cursor(db=self.refs)
            for key in cur.iternext_nodup(keys=True, values=False):
                yield bytes(key)

    def failures(self) -> Iterator[FileRecord]:
        for rec in self.iter_files():
            if rec.state == FAILED:
                yield rec

    def skipped_entries(self) -> list[tuple[str, str]]:
        """(path, reason) of every entry the scan or the watcher chose not to index."""
        with self.env.begin() as txn:
            return [(str(v["p"]), str(v["r"])) for _, v in
                    ((k, unpack(raw)) for k, raw in txn.cursor(db=self.skipped))]

    def contents_with_copies(self) -> list[bytes]:
        """Content found at more than one path: exact duplicates."""
        out = []
        with self.env.begin() as txn:
            cur = txn.cursor(db=self.refs)
            for key in cur.iternext_nodup(keys=True, values=False):
                if cur.count() > 1:
                    out.append(bytes(key))
        return out

    def is_live(self, content_hash: bytes) -> bool:
        with self.env.begin() as txn:
            return txn.get(content_hash, db=self.refs) is not None

    def rating_history(self, content_hash: bytes) -> list[dict[str, Any]]:
        history = self.get_user(content_hash, "rating-history")
        return list(history) if history else []

    def get_user(self, content_hash: bytes, key: str) -> Any:
        with self.env.begin() as txn:
            raw = txn.get(content_hash + key.encode(), db=self.user)
            return unpack(raw) if raw is not None else None

    def ratings(self) -> Iterator[tuple[bytes, dict[str, Any]]]:
        """Every rating in the store, live content or not: (content hash, {value, at})."""
        with self.env.begin() as txn:
            for key, raw in txn.cursor(db=self.user):
                if len(key) == 38 and bytes(key[32:]) == b"rating":
                    yield bytes(key[:32]), unpack(raw)

    def reviews(self) -> Iterator[tuple[bytes, dict[str, Any]]]:
        """Every cull decision and "looked at" mark: (content hash, {decision, seen_at})."""
        with self.env.begin() as txn:
            for key, raw in txn.cursor(db=self.user):
                if len(key) == 38 and bytes(key[32:]) == b"review":
                    yield bytes(key[:32]), unpack(raw)

    def get_setting(self, name: str) -> Any:
        with self.env.begin() as txn:
            raw = txn.get(b"setting:" + name.encode(), db=self.meta)
            return unpack(raw) if raw is not None else None

    def requeue_outdated(self, stage_names: Iterable[str]) -> int:
        """Queue every file whose content lacks a current mark for some stage.

        This is what makes a stage version bump (or a newly enabled stage) re-run
        on all content without anyone having to ask.
        """
        names = list(stage_names)
        stale: list[bytes] = []
        with self.env.begin() as txn:
            for content in aside_every(self.live_hashes()):
                for stage in names:
                    raw = txn.get(stage_key(content, stage), db=self.marks)
                    if raw is None or Mark.decode(raw).version != self.stage_versions.get(stage):
                        stale.append(content)
                        break
        queued = 0
        for start in range(0, len(stale), 1000):
            with self.write() as w:
                for content in stale[start : start + 1000]:
                    for path in w.paths_for(content):
                        queued += w.requeue(path)
        return queued
