"""A photo's row in the catalog, and the catalog's columns: one shape for both, whether
the rows were read from the store or from the catalog's file (search.catalog_file).

Every field of an Entry is named in exactly one of the kinds below, so the columns, the
file and a row read back from it are made from one list (a test holds it: a new field
that is not listed fails, rather than drifting silently out of the file).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass(slots=True)
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
    sort_version: int = 0
    """Moved on when a value an order sorts by (size, ratio, pixels, taken) changes in
    place (Catalog._update_row): an order kept from before is stale (search/sorted_rows.py).
    A rating, the usual change, moves none of them."""


SORTED_BY = ("size", "ratio", "pixels", "taken")
"""The columns whose orders are kept."""


INTS = ("width", "height", "file_size")
FLOATS = ("taken", "bias", "light", "sharpness", "stops", "dark", "bright", "eyes_closed",
          "eyes_open", "blurry_faces", "least_sharp", "lat", "lon", "utc_offset")
OPTIONAL_FLOATS = ("user_rating", "model_rating")
"""None is kept as nan."""
FLAGS = ("own_time", "has_gps", "failed", "described", "thumbnailed")
TEXTS = ("format", "camera", "place", "misfire", "gps_source", "model_version")
"""model_version None is kept as "" (it is None exactly when model_rating is)."""
TWIN = "twin_of"
"""Bytes or None: kept as HASH_BYTES bytes beside its length (0 for None)."""
HASH_BYTES = 32
FIELD_ORDER = [f.name for f in fields(Entry)]

Arrays = dict[str, NDArray[Any]]
"""One array per Entry field (TWIN as an (n, HASH_BYTES) uint8 array beside "twin_len")."""


def arrays_of(entries: Iterable[Entry]) -> Arrays:
    """Every field of these rows as one array each, in their order."""
    items = list(entries)
    out: Arrays = {}
    for name in INTS:
        out[name] = np.asarray([getattr(e, name) for e in items], dtype=np.int64)
    for name in FLOATS:
        out[name] = np.asarray([getattr(e, name) for e in items], dtype=np.float64)
    for name in OPTIONAL_FLOATS:
        out[name] = np.asarray([np.nan if (v := getattr(e, name)) is None else v
                                for e in items], dtype=np.float64)
    for name in FLAGS:
        out[name] = np.asarray([getattr(e, name) for e in items], dtype=bool)
    for name in TEXTS:
        out[name] = np.asarray([getattr(e, name) or "" for e in items], dtype=str)
    twins = np.zeros((len(items), HASH_BYTES), dtype=np.uint8)
    lengths = np.zeros(len(items), dtype=np.int64)
    for row, entry in enumerate(items):
        if entry.twin_of is not None:
            lengths[row] = len(entry.twin_of)
            twins[row, :lengths[row]] = np.frombuffer(entry.twin_of, dtype=np.uint8)
    out[TWIN], out["twin_len"] = twins, lengths
    return out


def entry_at(arrays: Arrays, row: int) -> Entry:
    """One row back as an Entry (a photo asked for by the presenters, not every photo)."""
    values: dict[str, Any] = {name: int(arrays[name][row]) for name in INTS}
    values.update({name: float(arrays[name][row]) for name in FLOATS})
    for name in OPTIONAL_FLOATS:
        value = float(arrays[name][row])
        values[name] = None if np.isnan(value) else value
    values.update({name: bool(arrays[name][row]) for name in FLAGS})
    values.update({name: str(arrays[name][row]) for name in TEXTS})
    if values["model_rating"] is None:
        values["model_version"] = None
    values[TWIN] = twin_at(arrays, row)
    return Entry(**values)


def twin_at(arrays: Arrays, row: int) -> bytes | None:
    """The row's twin_of: its bytes, cut to their length; None where it has none."""
    length = int(arrays["twin_len"][row])
    return arrays[TWIN][row, :length].tobytes() if length else None


def entries_of(ids: list[bytes], arrays: Arrays) -> dict[bytes, Entry]:
    """Every row back as an Entry, the same as entry_at gives, column by column: each row's
    values in the fields' order, given to the constructor positionally (the daemon makes
    all of them; 0.3 s for 100,000)."""
    names = [*INTS, *FLOATS, *OPTIONAL_FLOATS, *FLAGS, *TEXTS]
    columns: dict[str, list[Any]] = {name: arrays[name].tolist() for name in names}
    for name in OPTIONAL_FLOATS:
        columns[name] = [None if value != value else value for value in columns[name]]
    columns["model_version"] = [None if rating is None else version for version, rating in
                                zip(columns["model_version"], columns["model_rating"],
                                    strict=True)]
    lengths = arrays["twin_len"].tolist()  # most rows have no twin: no array read for them
    columns[TWIN] = [twin_at(arrays, row) if length else None
                     for row, length in enumerate(lengths)]
    rows = zip(*(columns[name] for name in FIELD_ORDER), strict=True)
    return {content: Entry(*row) for content, row in zip(ids, rows, strict=True)}


def columns_of(ids: list[bytes], arrays: Arrays) -> Columns:
    """The columns sorting and filtering read, from the rows' arrays: vectorised, so the
    same for a hundred photos read from the store or a million read from the file."""
    width = arrays["width"].astype(np.float64)
    height = arrays["height"].astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(height > 0, width / np.maximum(height, 1), np.nan)
    user = arrays["user_rating"]
    kept: dict[str, Any] = {name: arrays[name] for name in (
        "format", "taken", "own_time", "camera", "place", "has_gps", "bias", "failed",
        "sharpness", "stops", "dark", "bright", "eyes_closed", "eyes_open", "blurry_faces",
        "least_sharp", "lat", "lon", "utc_offset")}
    return Columns(
        ids=ids, width=width, height=height, size=arrays["file_size"].astype(np.float64),
        ratio=ratio, pixels=width * height,
        rating=np.where(np.isnan(user), arrays["model_rating"], user),
        user_rated=~np.isnan(user),
        ready=arrays["described"] & arrays["thumbnailed"],
        misfire=arrays["misfire"] != "", twin=arrays["twin_len"] > 0,
        position={k: i for i, k in enumerate(ids)},
        id_array=np.asarray(ids, dtype="S32"), **kept)
