"""What sorting and filtering need about every live image, in memory and in columns.

Filled once from the store, then kept current by the store's born/died events
and the pipeline's new results, so a new file is sortable and filterable the
moment its metadata is recorded, and a deleted one is gone at once. Columns
(numpy arrays) are rebuilt lazily after a change, so a sort over a million
images is one argsort.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from anagnorisisd.search import catalog_file
from anagnorisisd.search.catalog_rows import (
    SORTED_BY,
    Columns,
    Entry,
    arrays_of,
    columns_of,
    entries_of,
    entry_at,
    twin_at,
)
from anagnorisisd.search.meta_values import (
    keywords_of,
    light_of,
    number,
    offset_seconds,
    wall_clock_seconds,
)
from anagnorisisd.search.tags import TagBook
from anagnorisisd.store.database import Store
from anagnorisisd.store.snapshot import Snapshot


class Catalog:
    def __init__(self, store: Store, metadata_stage: str | None = "meta",
                 quality_stage: str | None = "quality",
                 thumbnail_stage: str | None = "thumbnail",
                 signals_stage: str | None = None, saved_at: Path | None = None) -> None:
        self.store = store
        self.signals_stage = signals_stage  # the stage that provides "face_quality"
        self.metadata_stage = metadata_stage  # the stage that provides "metadata"
        self.quality_stage = quality_stage  # the stage that provides "quality"
        self.thumbnail_stage = thumbnail_stage  # the stage that provides "thumbnail"
        self.saved_at = saved_at
        """Where the catalog's file is kept (search.catalog_file); None: never saved."""
        self._entries: dict[bytes, Entry] = {}
        self._frozen: tuple[catalog_file.Saved, Columns] | None = None
        """Rows read from the catalog's file, made into Entries only when first changed or
        listed (a command that asks for five photos makes five, not 100,000)."""
        self._saved_stamp: str | None = None
        self._whole = False
        """A load has finished: only then may the catalog be saved (a half-read catalog
        stamped as the store's would be taken for the whole library)."""
        self.tags = TagBook()
        """Every photo's tags: keywords from its files here, confirmed concepts from the
        concepts (group "concept")."""
        self._columns: Columns | None = None
        self._lock = threading.RLock()
        self._heard_while_loading: list[Callable[[], None]] | None = None
        self.version = 0
        self.reshapes = 0
        """Loads and changes to which photos exist or to their metadata, not ratings
        (search.pair_watch)."""
        self.raws: dict[bytes, list[bytes]] = {}
        """Developed content -> the RAW contents paired with it (set_pairs)."""
        self.pairs: dict[bytes, bytes] = {}
        """RAW content -> developed content, kept for entries read after set_pairs."""

    @property
    def entries(self) -> dict[bytes, Entry]:
        """Every live photo's row (made from the file's arrays on first use: see _frozen)."""
        self.thaw()
        return self._entries

    def thaw(self) -> None:
        """Make every row read from the file an Entry now: the daemon does, once, so its
        loops over many photos look each one up in a dictionary, not in the arrays."""
        with self._lock:
            if self._frozen is not None:
                saved, _ = self._frozen
                self._entries, self._frozen = entries_of(saved.ids, saved.arrays), None

    def _stamp(self, last_txn: int) -> str:
        """What the catalog's file must have been written for: this store, this write, and
        the stages its rows come from."""
        stages = (self.metadata_stage, self.quality_stage, self.thumbnail_stage,
                  self.signals_stage)
        return f"{self.store.identity()}:{last_txn}:{stages}"

    def load(self) -> None:
        """Fill from the store: every live content with its metadata and ratings; from the
        catalog's file instead when it was written for the store as it is (a first load
        only: a reload reads the store).

        The pipeline runs meanwhile: a result that lands after its content was read here
        would be lost when the fresh entries replace the old ones (a tile stuck at
        "0 B · 0×0" until the next start). So every change heard during the load is kept
        and applied again to the fresh entries once they are in place."""
        with self._lock:
            self._heard_while_loading = []
            first = not self._entries and self._frozen is None
        if first and self.saved_at is not None and self._load_saved():
            return
        fresh: dict[bytes, Entry] = {}
        with self.store.snapshot() as reads:  # one transaction, not six a photo
            stamp = self._stamp(reads.txn_id)
            for content in reads.live_hashes():
                fresh[content] = self._read(content, reads)
            for content in reads.failed_contents():
                if content in fresh:
                    fresh[content].failed = True
        if self.saved_at is not None:
            self._save(stamp, fresh)
        with self._lock:
            fresh.update({k: v for k, v in self.entries.items() if k not in fresh and
                          self.store.is_live(k)})
            gone = [k for k in self.entries if k not in fresh]
            self._entries, self._whole = fresh, True
            heard, self._heard_while_loading = self._heard_while_loading, None
            self._changed()
            self.reshapes += 1
        for content in gone:
            self.tags.drop(content)
        for replay in heard or []:
            replay()

    def _load_saved(self) -> bool:
        """The catalog from its file, if the file is current (catalog_file.read)."""
        assert self.saved_at is not None
        stamp = self._stamp(self.store.last_txn())
        saved = catalog_file.read(self.saved_at, stamp)
        if saved is None:
            return False
        columns = columns_of(saved.ids, saved.arrays)
        pairs = {saved.ids[row]: twin for row in np.flatnonzero(saved.arrays["twin_len"]).tolist()
                 if (twin := twin_at(saved.arrays, row)) is not None}
        for content, tags in saved.file_tags.items():
            self.tags.put(content, "file", tags)
        with self._lock:
            self._frozen, self._columns, self._saved_stamp = (saved, columns), columns, stamp
            self._whole = True
            self._keep_pairs(pairs)
            heard, self._heard_while_loading = self._heard_while_loading, None
            self.version += 1
            self.reshapes += 1
        for replay in heard or []:
            replay()
        return True

    def save(self) -> None:
        """Write the catalog's file for the store as it is now; called when nothing else
        writes to the store any more (the daemon's stop), and only when it changed."""
        if self.saved_at is None or not self._whole:
            return
        stamp = self._stamp(self.store.last_txn())
        if stamp != self._saved_stamp:
            with self._lock:
                entries = dict(self.entries)
            self._save(stamp, entries)

    def _save(self, stamp: str, entries: dict[bytes, Entry]) -> None:
        assert self.saved_at is not None
        ids = list(entries)
        file_tags = {content: tags for content in ids
                     if (tags := self.tags.group_of(content, "file"))}
        if catalog_file.write(self.saved_at, stamp, ids, arrays_of(entries.values()),
                              file_tags):
            self._saved_stamp = stamp

    def _heard(self, replay: Callable[[], None]) -> None:
        """Keep a change for replay when a load is running (see load)."""
        with self._lock:
            if self._heard_while_loading is not None:
                self._heard_while_loading.append(replay)

    def _read(self, content: bytes, reads: Store | Snapshot | None = None) -> Entry:
        store = reads or self.store
        entry = Entry(described=self.metadata_stage is None, twin_of=self.pairs.get(content))
        meta = store.get_result(content, self.metadata_stage) if self.metadata_stage else None
        if meta:
            self._apply_meta(entry, meta)
            self.tags.put(content, "file", keywords_of(meta))
        if self.thumbnail_stage is None:
            entry.thumbnailed = True
        else:  # the mark says it without reading the thumbnail's bytes
            mark = store.get_mark(content, self.thumbnail_stage)
            entry.thumbnailed = mark is not None and mark.error is None
        quality = store.get_result(content, self.quality_stage) if self.quality_stage \
            else None
        if quality:
            self._apply_quality(entry, quality)
        signals = store.get_result(content, self.signals_stage) if self.signals_stage \
            else None
        if signals:
            self._apply_signals(entry, signals)
        rating = store.get_user(content, "rating")
        if rating is not None:
            entry.user_rating = float(rating["value"])
        prediction = store.get_user(content, "prediction")
        if prediction is not None:
            entry.model_rating = float(prediction["value"])
            entry.model_version = str(prediction.get("model"))
        return entry

    @staticmethod
    def _apply_meta(entry: Entry, meta: dict[str, Any]) -> None:
        entry.width, entry.height = int(meta["width"]), int(meta["height"])
        entry.file_size, entry.format = int(meta["file_size"]), str(meta["format"])
        entry.taken = wall_clock_seconds(meta.get("taken_at"))
        entry.own_time = meta.get("taken_source") not in (None, "file-modified")
        entry.camera = str(meta.get("camera") or "").lower()
        entry.place = str(meta.get("place") or "").lower()
        entry.has_gps = bool(meta.get("gps"))
        gps = meta.get("gps")
        entry.lat, entry.lon = ((float(gps[0]), float(gps[1])) if isinstance(gps, list | tuple)
                                and len(gps) == 2 else (math.nan, math.nan))
        entry.utc_offset = offset_seconds(meta.get("taken_offset"))
        entry.gps_source = str(meta.get("gps_source") or "exif")
        entry.bias = number(meta, "exposure_bias")
        entry.light = light_of(meta)
        entry.described = True

    @staticmethod
    def _apply_quality(entry: Entry, quality: dict[str, Any]) -> None:
        entry.sharpness, entry.stops = number(quality, "sharpness"), number(quality, "stops")
        entry.dark, entry.bright = number(quality, "dark"), number(quality, "bright")
        entry.misfire = str(quality.get("misfire") or "")

    @staticmethod
    def _apply_signals(entry: Entry, signals: dict[str, Any]) -> None:
        entry.eyes_closed = number(signals, "eyes_closed")
        entry.eyes_open = number(signals, "eyes_open")
        entry.blurry_faces = number(signals, "blurry")
        entry.least_sharp = number(signals, "least_sharp")

    def _changed(self) -> None:
        self._columns = None
        self.version += 1

    # ------------------------------------------------------------ listeners
    def on_content(self, born: list[bytes], died: list[bytes]) -> None:
        self._heard(functools.partial(self.on_content, born, died))
        with self._lock:
            for content in died:
                self.entries.pop(content, None)
        for content in died:
            self.tags.drop(content)
        for content in born:
            entry = self._read(content)
            with self._lock:
                self.entries[content] = entry
        with self._lock:
            self._changed()
            self.reshapes += 1

    def on_result(self, stage: str, content: bytes, output: dict[str, Any]) -> None:
        if stage not in (self.metadata_stage, self.quality_stage, self.thumbnail_stage,
                         self.signals_stage):
            return
        self._heard(functools.partial(self.on_result, stage, content, output))
        with self._lock:
            entry = self.entries.get(content)
            if entry is None:
                return
            if stage == self.metadata_stage:
                self.reshapes += 1
                self._apply_meta(entry, output)
                self.tags.put(content, "file", keywords_of(output))
            elif stage == self.thumbnail_stage:
                entry.thumbnailed = True
            elif stage == self.signals_stage:
                self._apply_signals(entry, output)
            else:
                self._apply_quality(entry, output)
            self._update_row(content, entry)

    def on_finished(self, done: list[tuple[bytes, bool]]) -> None:
        self._heard(functools.partial(self.on_finished, done))
        with self._lock:
            for content, failed in done:
                entry = self.entries.get(content)
                if entry is not None and entry.failed != failed:
                    entry.failed = failed
                    self._update_row(content, entry)

    def set_rating(self, content: bytes, user: float | None = None,
                   model: tuple[float, str] | None = None) -> None:
        self._heard(functools.partial(self.set_rating, content, user, model))
        with self._lock:
            entry = self.entries.get(content)
            if entry is None:
                return
            if model is not None:
                entry.model_rating, entry.model_version = model
            else:
                entry.user_rating = user
            self._update_row(content, entry)

    def _update_row(self, content: bytes, entry: Entry) -> None:
        """A change to one image's values rewrites its row of the columns in place.

        Only a change in *which* images exist (born, died) rebuilds the columns: at 100,000
        images a rebuild costs about a second, and with ratings arriving every query paid it.
        A reader sees each value either before or after the change, never a torn row that
        matters (each cell is one aligned numpy write)."""
        columns = self._columns
        if columns is None:
            return
        row = columns.position.get(content)
        if row is None:
            self._changed()
            return
        before = [getattr(columns, name)[row] for name in SORTED_BY]
        columns.width[row], columns.height[row] = entry.width, entry.height
        columns.size[row] = entry.file_size
        columns.ratio[row] = entry.width / entry.height if entry.height else np.nan
        columns.pixels[row] = entry.width * entry.height
        columns.rating[row] = np.nan if entry.rating is None else entry.rating
        columns.user_rated[row] = entry.user_rating is not None
        columns.taken[row], columns.has_gps[row] = entry.taken, entry.has_gps
        columns.own_time[row] = entry.own_time
        columns.bias[row] = entry.bias
        columns.failed[row] = entry.failed
        columns.ready[row] = entry.ready
        columns.sharpness[row] = entry.sharpness
        for name in ("eyes_closed", "eyes_open", "blurry_faces", "least_sharp", "stops",
                     "dark", "bright", "lat", "lon", "utc_offset"):
            getattr(columns, name)[row] = getattr(entry, name)
        columns.misfire[row] = bool(entry.misfire)
        for name in ("format", "camera", "place"):
            value, column = getattr(entry, name), getattr(columns, name)
            if len(value) > column.dtype.itemsize // 4:
                self._changed()  # a longer string than the column holds: rebuild once
                return
            column[row] = value
        after = [getattr(columns, name)[row] for name in SORTED_BY]
        if not all(b == a or (b != b and a != a)  # nan is nan
                   for b, a in zip(before, after, strict=True)):
            columns.sort_version += 1
        self.version += 1

    def set_pairs(self, pairs: dict[bytes, bytes]) -> None:
        """RAW content -> developed content, as search.pairs found them: the RAWs leave
        the grid, their JPEGs stand for both."""
        with self._lock:
            changed = False
            for content, entry in self.entries.items():
                twin = pairs.get(content)
                if entry.twin_of != twin:
                    entry.twin_of, changed = twin, True
            self._keep_pairs(pairs)
            if changed:
                self._changed()

    def _keep_pairs(self, pairs: dict[bytes, bytes]) -> None:
        """The pairs, both ways round (the caller holds the lock)."""
        raws: dict[bytes, list[bytes]] = {}
        for raw, developed in pairs.items():
            raws.setdefault(developed, []).append(raw)
        self.raws, self.pairs = raws, dict(pairs)

    def twins(self, content: bytes) -> list[bytes]:
        """The RAW contents shown as this one (none for a photo without a pair)."""
        return list(self.raws.get(content, ()))

    # -------------------------------------------------------------- queries
    def newest_first(self) -> list[bytes]:
        """Every photo, the most recently taken first (those with no date last): the order
        the slow background stages go through the library in."""
        columns = self.columns()
        taken = np.nan_to_num(columns.taken, nan=-np.inf)
        return [columns.ids[i] for i in np.argsort(-taken, kind="stable")]

    def __contains__(self, content: bytes) -> bool:
        frozen = self._frozen  # no lock: thaw sets the entries before it clears this
        return content in (frozen[1].position if frozen is not None else self._entries)

    def __len__(self) -> int:
        frozen = self._frozen
        return len(frozen[1].ids) if frozen is not None else len(self._entries)

    def failed_count(self) -> int:
        return int(self.columns().failed.sum())

    def get(self, content: bytes) -> Entry | None:
        frozen = self._frozen
        if frozen is None:
            return self._entries.get(content)
        row = frozen[1].position.get(content)
        return None if row is None else entry_at(frozen[0].arrays, row)

    def columns(self) -> Columns:
        with self._lock:
            if self._columns is None:
                entries = self.entries
                ids = list(entries)
                self._columns = columns_of(ids, arrays_of(entries[k] for k in ids))
            return self._columns
