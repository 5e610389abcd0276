"""What sorting and filtering need about every live image, in memory and in columns.

Filled once from the store, then kept current by the store's born/died events
and the pipeline's new results, so a new file is sortable and filterable the
moment its metadata is recorded, and a deleted one is gone at once. Columns
(numpy arrays) are rebuilt lazily after a change, so a sort over a million
images is one argsort.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.store.database import Store


@dataclass
class Entry:
    width: int = 0
    height: int = 0
    file_size: int = 0
    format: str = ""
    user_rating: float | None = None
    model_rating: float | None = None
    model_version: str | None = None

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
    position: dict[bytes, int] = field(default_factory=dict)
    id_array: NDArray[np.bytes_] = field(default_factory=lambda: np.zeros(0, dtype="S32"))
    """The ids as one array, for tie-breaks without a Python loop per query."""


class Catalog:
    def __init__(self, store: Store, metadata_stage: str | None = "meta") -> None:
        self.store = store
        self.metadata_stage = metadata_stage  # the stage that provides "metadata"
        self.entries: dict[bytes, Entry] = {}
        self._columns: Columns | None = None
        self._lock = threading.Lock()
        self.version = 0

    def load(self) -> None:
        """Fill from the store: every live content with its metadata and ratings."""
        fresh: dict[bytes, Entry] = {}
        for content in self.store.live_hashes():
            fresh[content] = self._read(content)
        with self._lock:
            fresh.update({k: v for k, v in self.entries.items() if k not in fresh and
                          self.store.is_live(k)})
            self.entries = fresh
            self._changed()

    def _read(self, content: bytes) -> Entry:
        entry = Entry()
        meta = self.store.get_result(content, self.metadata_stage) if self.metadata_stage else None
        if meta:
            self._apply_meta(entry, meta)
        rating = self.store.get_user(content, "rating")
        if rating is not None:
            entry.user_rating = float(rating["value"])
        prediction = self.store.get_user(content, "prediction")
        if prediction is not None:
            entry.model_rating = float(prediction["value"])
            entry.model_version = str(prediction.get("model"))
        return entry

    @staticmethod
    def _apply_meta(entry: Entry, meta: dict[str, Any]) -> None:
        entry.width, entry.height = int(meta["width"]), int(meta["height"])
        entry.file_size, entry.format = int(meta["file_size"]), str(meta["format"])

    def _changed(self) -> None:
        self._columns = None
        self.version += 1

    # ------------------------------------------------------------ listeners
    def on_content(self, born: list[bytes], died: list[bytes]) -> None:
        with self._lock:
            for content in died:
                self.entries.pop(content, None)
        for content in born:
            entry = self._read(content)
            with self._lock:
                self.entries[content] = entry
        with self._lock:
            self._changed()

    def on_result(self, stage: str, content: bytes, output: dict[str, Any]) -> None:
        if stage != self.metadata_stage:
            return
        with self._lock:
            entry = self.entries.get(content)
            if entry is None:
                return
            self._apply_meta(entry, output)
            self._update_row(content, entry)

    def set_rating(self, content: bytes, user: float | None = None,
                   model: tuple[float, str] | None = None) -> None:
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
        if len(entry.format) <= columns.format.dtype.itemsize // 4:
            columns.format[row] = entry.format
        else:  # a longer format name than the column holds: rebuild once
            self._changed()
            return
        self.version += 1

    # -------------------------------------------------------------- queries
    def __contains__(self, content: bytes) -> bool:
        return content in self.entries

    def __len__(self) -> int:
        return len(self.entries)

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
                position={k: i for i, k in enumerate(ids)},
                id_array=np.asarray(ids, dtype="S32"),
            )
            return self._columns
