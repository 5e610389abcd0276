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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

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


@dataclass
class Entry:
    width: int = 0
    height: int = 0
    file_size: int = 0
    format: str = ""
    user_rating: float | None = None
    model_rating: float | None = None
    model_version: str | None = None
    taken: float = float("nan")
    """Capture time as seconds, reading the wall-clock time the photo shows as UTC: what
    date filters compare ("2023-07" means July on the photo's own clock)."""
    own_time: bool = False
    """The time is the photo's own (EXIF, XMP), not its file's modification time: only
    such times may link shots into bursts and panoramas (files copied in one go share
    their modification times though they were taken years apart)."""
    camera: str = ""
    place: str = ""
    has_gps: bool = False
    bias: float = float("nan")
    """EXIF exposure compensation, EV (brackets step it); nan where not written."""
    light: float = float("nan")
    """log2 of the light the camera let in (exposure time x ISO / f-number squared), from
    EXIF; nan where a setting is missing. Tells why one shot of a stack is darker."""
    failed: bool = False
    """The pipeline could not read this content; the grid leaves it out and counts it."""
    sharpness: float = float("nan")
    """From the stage that provides "quality"; nan until it has run. So are stops (the
    exposure from mid-grey), dark and bright (shares crushed and blown) and misfire."""
    stops: float = float("nan")
    dark: float = float("nan")
    bright: float = float("nan")
    misfire: str = ""
    twin_of: bytes | None = None
    """For a RAW with a JPEG of the same shot beside it (search.pairs): that JPEG's
    content. The pair is one photo, shown and acted on as the JPEG."""
    described: bool = False
    """Its metadata is recorded (or no stage provides metadata)."""
    thumbnailed: bool = False
    """Its thumbnail is stored (or no stage provides thumbnails)."""
    eyes_closed: float = float("nan")
    """Faces with their eyes shut, from the stage that provides "face_quality"; nan until
    measured. The same for eyes_open, blurry_faces and least_sharp (the least sharp face's
    focus)."""
    eyes_open: float = float("nan")
    blurry_faces: float = float("nan")
    least_sharp: float = float("nan")
    lat: float = float("nan")
    """Where the photo itself says it was taken (EXIF GPS, or its sidecar's); nan where it
    says nothing. A position filled from a track or by hand is the places feature's."""
    lon: float = float("nan")
    gps_source: str = ""
    """Where its own position was read: "exif" (the file) or "xmp" (a sidecar)."""
    utc_offset: float = float("nan")
    """Seconds east of UTC of the capture time's clock, where the camera wrote its zone
    (EXIF OffsetTimeOriginal, XMP's date); nan where it did not."""

    @property
    def ready(self) -> bool:
        """Shown as a tile: a content the hash stage has just found has no size, no
        dimensions and no thumbnail yet, and a tile reading "0 B · 0×0" over a broken
        picture is worse than no tile until it has them."""
        return self.described and self.thumbnailed

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def ratio(self) -> float | None:
        return self.width / self.height if self.height else None

    @property
    def rating(self) -> float | None:
        return self.user_rating if self.user_rating is not None else self.model_rating


@dataclass
class Columns:
    ids: list[bytes]
    width: NDArray[np.float64]
    height: NDArray[np.float64]
    size: NDArray[np.float64]
    ratio: NDArray[np.float64]
    pixels: NDArray[np.float64]
    rating: NDArray[np.float64]  # nan when unrated and unpredicted
    user_rated: NDArray[np.bool_]
    format: NDArray[np.str_]
    taken: NDArray[np.float64]
    own_time: NDArray[np.bool_]
    camera: NDArray[np.str_]
    place: NDArray[np.str_]
    has_gps: NDArray[np.bool_]
    bias: NDArray[np.float64]
    failed: NDArray[np.bool_]
    ready: NDArray[np.bool_]
    sharpness: NDArray[np.float64]
    stops: NDArray[np.float64]
    dark: NDArray[np.float64]
    bright: NDArray[np.float64]
    misfire: NDArray[np.bool_]
    twin: NDArray[np.bool_]
    """A RAW shown as its JPEG's pair, never as a tile of its own."""
    eyes_closed: NDArray[np.float64]
    eyes_open: NDArray[np.float64]
    blurry_faces: NDArray[np.float64]
    least_sharp: NDArray[np.float64]
    lat: NDArray[np.float64]
    lon: NDArray[np.float64]
    utc_offset: NDArray[np.float64]
    position: dict[bytes, int] = field(default_factory=dict)
    id_array: NDArray[np.bytes_] = field(default_factory=lambda: np.zeros(0, dtype="S32"))
    """The ids as one array, for tie-breaks without a Python loop per query."""


class Catalog:
    def __init__(self, store: Store, metadata_stage: str | None = "meta",
                 quality_stage: str | None = "quality",
                 thumbnail_stage: str | None = "thumbnail",
                 signals_stage: str | None = None) -> None:
        self.store = store
        self.signals_stage = signals_stage  # the stage that provides "face_quality"
        self.metadata_stage = metadata_stage  # the stage that provides "metadata"
        self.quality_stage = quality_stage  # the stage that provides "quality"
        self.thumbnail_stage = thumbnail_stage  # the stage that provides "thumbnail"
        self.entries: dict[bytes, Entry] = {}
        self.tags = TagBook()
        """Every photo's tags: keywords from its files here, confirmed concepts from the
        concepts (group "concept")."""
        self._columns: Columns | None = None
        self._lock = threading.Lock()
        self._heard_while_loading: list[Callable[[], None]] | None = None
        self.version = 0
        self.raws: dict[bytes, list[bytes]] = {}
        """Developed content -> the RAW contents paired with it (set_pairs)."""
        self.pairs: dict[bytes, bytes] = {}
        """RAW content -> developed content, kept for entries read after set_pairs."""

    def load(self) -> None:
        """Fill from the store: every live content with its metadata and ratings.

        The pipeline runs meanwhile: a result that lands after its content was read here
        would be lost when the fresh entries replace the old ones (a tile stuck at
        "0 B · 0×0" until the next start). So every change heard during the load is kept
        and applied again to the fresh entries once they are in place."""
        with self._lock:
            self._heard_while_loading = []
        fresh: dict[bytes, Entry] = {}
        with self.store.snapshot() as reads:  # one transaction, not six a photo
            for content in reads.live_hashes():
                fresh[content] = self._read(content, reads)
            for content in reads.failed_contents():
                if content in fresh:
                    fresh[content].failed = True
        with self._lock:
            fresh.update({k: v for k, v in self.entries.items() if k not in fresh and
                          self.store.is_live(k)})
            gone = [k for k in self.entries if k not in fresh]
            self.entries = fresh
            heard, self._heard_while_loading = self._heard_while_loading, None
            self._changed()
        for content in gone:
            self.tags.drop(content)
        for replay in heard or []:
            replay()

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
        self.version += 1

    def set_pairs(self, pairs: dict[bytes, bytes]) -> None:
        """RAW content -> developed content, as search.pairs found them: the RAWs leave
        the grid, their JPEGs stand for both."""
        with self._lock:
            raws: dict[bytes, list[bytes]] = {}
            for raw, developed in pairs.items():
                raws.setdefault(developed, []).append(raw)
            changed = False
            for content, entry in self.entries.items():
                twin = pairs.get(content)
                if entry.twin_of != twin:
                    entry.twin_of, changed = twin, True
            self.raws, self.pairs = raws, dict(pairs)
            if changed:
                self._changed()

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
        return content in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def failed_count(self) -> int:
        return int(self.columns().failed.sum())

    def get(self, content: bytes) -> Entry | None:
        return self.entries.get(content)

    def columns(self) -> Columns:
        with self._lock:
            if self._columns is not None:
                return self._columns
            ids = list(self.entries)
            items = [self.entries[k] for k in ids]

            def col(values: list[Any]) -> NDArray[np.float64]:
                return np.asarray(values, dtype=np.float64)

            width = col([e.width for e in items])
            height = col([e.height for e in items])
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(height > 0, width / np.maximum(height, 1), np.nan)
            rating = col([np.nan if e.rating is None else e.rating for e in items])
            self._columns = Columns(
                ids=ids, width=width, height=height, size=col([e.file_size for e in items]),
                ratio=ratio, pixels=width * height, rating=rating,
                user_rated=np.asarray([e.user_rating is not None for e in items], dtype=bool),
                format=np.asarray([e.format for e in items], dtype=str),
                taken=col([e.taken for e in items]),
                own_time=np.asarray([e.own_time for e in items], dtype=bool),
                camera=np.asarray([e.camera for e in items], dtype=str),
                place=np.asarray([e.place for e in items], dtype=str),
                has_gps=np.asarray([e.has_gps for e in items], dtype=bool),
                bias=col([e.bias for e in items]),
                failed=np.asarray([e.failed for e in items], dtype=bool),
                ready=np.asarray([e.ready for e in items], dtype=bool),
                sharpness=col([e.sharpness for e in items]),
                stops=col([e.stops for e in items]), dark=col([e.dark for e in items]),
                bright=col([e.bright for e in items]),
                misfire=np.asarray([bool(e.misfire) for e in items], dtype=bool),
                twin=np.asarray([e.twin_of is not None for e in items], dtype=bool),
                eyes_closed=col([e.eyes_closed for e in items]),
                eyes_open=col([e.eyes_open for e in items]),
                blurry_faces=col([e.blurry_faces for e in items]),
                least_sharp=col([e.least_sharp for e in items]),
                lat=col([e.lat for e in items]), lon=col([e.lon for e in items]),
                utc_offset=col([e.utc_offset for e in items]),
                position={k: i for i, k in enumerate(ids)},
                id_array=np.asarray(ids, dtype="S32"),
            )
            return self._columns
