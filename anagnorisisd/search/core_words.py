"""The library's own words: what every photo has (size, shape, format, capture time,
camera) and the orders that need nothing else, registered as the core feature "library"
through the same Word table as every other feature.

    width>=1920  height<1000  size<5MB  ratio<1  pixels>=12MP  format=jpeg
    date>=2023-07  date:2023  year:2023  before:2024  after:2023-06  camera:"iPhone 13"
    score>=0.25 (the cosine to the free text or similar:ID)   similar:ID
    random  file-size  proportion  resolution  similarity  date   order:asc  seed:4  lang:fr
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.feature import Feature, FeatureContext, Word
from anagnorisisd.search.query import ID_RE, Query, QueryError, Token, needs_value, number, period
from anagnorisisd.search.sorted_rows import SortedRows

FORMAT_NAMES = {"jpg": "jpeg", "jpe": "jpeg", "heic": "heif", "hif": "heif", "tif": "tiff",
                "jpegxl": "jxl"}
"""What people type for a format, to the name the metadata stage records (Pillow's)."""
FORMAT_FAMILIES = {"jpeg": ("jpeg", "mpo")}
"""Formats recorded under more than one name: a phone JPEG with a depth map or a second
picture inside is an MPO to Pillow, and a JPEG to everyone else."""
SIZE_UNITS = {"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "kib": 1024, "mib": 1024**2,
              "gib": 1024**3}
NUMERIC = {"width": "width", "height": "height", "size": "size", "ratio": "ratio",
           "pixels": "pixels", "taken": "taken"}
"""Filter field -> the catalog column it compares."""
OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": np.greater_equal, "<=": np.less_equal, ">": np.greater, "<": np.less,
    "=": np.equal, "!=": np.not_equal}
BOUNDS = {"=": [(">=", 0), ("<", 1)], ">=": [(">=", 0)], ">": [(">=", 1)],
          "<": [("<", 0)], "<=": [("<", 1)]}
"""A date comparison as bounds on the capture time: date=2023-07 is all of July (start
and end), date>2023-07 starts in August, date<=2023-07 ends with July."""
LANGUAGE_RE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z]{2,4})?")


def compare_number(name: str, units: dict[str, float] | None = None,
                   low: float | None = None, high: float | None = None
                   ) -> Callable[[Query, Token], None]:
    def parse(query: Query, token: Token) -> None:
        query.add(name, token.op, number(token, units, low, high, name))
    return parse


def parse_format(query: Query, token: Token) -> None:
    if not re.fullmatch(r"[a-z0-9]+", token.value, re.I):
        raise token.error("format needs a word like jpeg or png")
    if token.op not in ("=", "!="):
        raise token.error("format takes = or !=")
    value = token.value.lower()
    query.add("format", token.op, FORMAT_NAMES.get(value, value))


def parse_score(query: Query, token: Token) -> None:
    query.add("score", token.op, number(token, None, -1, 1, "score"))


def parse_date(query: Query, token: Token) -> None:
    """date OP PERIOD, and date:, year:, before:, after: (key words: = < >)."""
    op = {"date": "=", "year": "=", "before": "<", "after": ">"}.get(
        token.raw.split(":", 1)[0].lower(), token.op) if token.op == ":" else token.op
    if token.raw.lower().startswith("year:") and not re.fullmatch(r"\d{4}", token.value):
        raise token.error("year: needs a year like 2023")
    bounds = BOUNDS.get(op)
    if bounds is None:
        raise token.error("dates compare with =, <, <=, > or >=")
    span = period(token.value, token)
    for o, end in bounds:
        query.add("taken", o, span[end])


def parse_camera(query: Query, token: Token) -> None:
    query.add("camera", "~", needs_value(token, 'camera:"iPhone 13"').lower())


def parse_similar(query: Query, token: Token) -> None:
    target = token.value.lower()
    if not ID_RE.match(target):
        raise token.error("similar: needs an image id (64 hex digits)")
    query.set_sort("similar", token)
    query.similar_to = target


def parse_order(query: Query, token: Token) -> None:
    if token.value.lower() not in ("asc", "desc"):
        raise token.error("order is asc or desc")
    query.order = token.value.lower()


def parse_seed(query: Query, token: Token) -> None:
    if not token.value.isdigit():
        raise token.error("seed needs a whole number")
    query.seed = int(token.value)


def parse_language(query: Query, token: Token) -> None:
    if not LANGUAGE_RE.fullmatch(token.value):
        raise token.error("lang: needs a language code like fr, pt-BR or fra_Latn")
    query.language = token.value


def score_has_a_reference(query: Query, raw: str) -> None:
    """A score cutoff compares with something: the free text or similar:ID."""
    if query.has("score") and not (query.text or query.negative or query.sort == "similar"):
        position = raw.lower().find("score")
        token = raw[position:].split()[0] if position >= 0 else "score"
        raise QueryError(f"'{token}': a score needs something to compare with: free text "
                         "or similar:ID", token, max(0, position))


class LibraryFeature(Feature):
    """The core: answered from the catalog's columns and the vector index."""

    name: ClassVar[str] = "library"

    def __init__(self, context: FeatureContext | None = None) -> None:
        self.context = context  # type: ignore[assignment]
        self.sorted_rows = SortedRows()

    @classmethod
    def words(cls) -> Iterable[Word]:
        return [
            Word("width", "compare", "width in pixels, as shown: width>=1920",
                 compare_number("width")),
            Word("height", "compare", "height in pixels, as shown: height<1000",
                 compare_number("height")),
            Word("size", "compare", "file size, B KB MB GB or KiB MiB GiB: size<5MB",
                 compare_number("size", SIZE_UNITS)),
            Word("ratio", "compare", "width over height: ratio<1 for portrait",
                 compare_number("ratio")),
            Word("pixels", "compare", "pixels, MP for millions: pixels>=12MP",
                 compare_number("pixels", {"mp": 1e6, "m": 1e6})),
            Word("format", "compare", "file format: format=jpeg, format!=png", parse_format),
            Word("score", "compare", "cosine to the free text or similar:ID, -1 to 1: "
                 "sunset score>=0.25", parse_score),
            Word("date", "compare", "capture time, YYYY, YYYY-MM or YYYY-MM-DD: "
                 "date>=2023-07", parse_date, ("taken",)),
            Word("date", "key", "taken in a year, month or day: date:2023-07", parse_date,
                 ("taken",)),
            Word("year", "key", "taken in a year: year:2023", parse_date, ("taken",)),
            Word("before", "key", "taken before: before:2024", parse_date, ("taken",)),
            Word("after", "key", "taken after: after:2023-06", parse_date, ("taken",)),
            Word("camera", "key", 'camera or phone, part of its name: camera:"iPhone 13"',
                 parse_camera),
            Word("similar", "key", "like another photo of the library: similar:ID",
                 parse_similar, ("similar",)),
            Word("order", "key", "order:asc or order:desc (each sort's own default)",
                 parse_order, ("order",)),
            Word("seed", "key", "the random order to show: seed:4", parse_seed, ("seed",)),
            Word("lang", "key", "the language of the free text, for multilingual models: "
                 "lang:fr", parse_language, ("lang",)),
            Word("random", "sort", "a random order (seed:N to keep one)"),
            Word("file-size", "sort", "largest files first"),
            Word("proportion", "sort", "widest first (width over height)"),
            Word("resolution", "sort", "most pixels first"),
            Word("similarity", "sort", "near-duplicates side by side"),
            Word("date", "sort", "newest first (undated last)"),
        ]

    # ---------------------------------------------------------------- answering
    def match(self, filter_: Any, columns: Any) -> NDArray[np.bool_]:
        f = filter_
        if f.field == "score":  # the similarities themselves: the search service's
            return np.ones(len(columns.ids), dtype=bool)
        if f.field == "camera":
            return np.asarray(np.char.find(columns.camera, str(f.value)) >= 0)
        if f.field == "format":
            values = np.isin(columns.format, FORMAT_FAMILIES.get(str(f.value), (f.value,)))
            return np.asarray(values if f.op == "=" else ~values)
        data = getattr(columns, NUMERIC[f.field])
        with np.errstate(invalid="ignore"):
            return np.asarray(OPS[f.op](data, f.value) & ~np.isnan(data))

    def order(self, mode: str, columns: Any, rows: NDArray[np.intp],
              descending: bool) -> NDArray[np.intp]:
        """file-size, proportion, resolution and date (random and similarity need the
        query's seed and the index: the search service orders those itself); every row's
        order is kept while its column is unchanged (search/sorted_rows.py)."""
        key = {"file-size": columns.size, "proportion": columns.ratio,
               "resolution": columns.pixels, "date": columns.taken}[mode]

        def sort(every: NDArray[np.intp]) -> NDArray[np.intp]:
            tiebreak = columns.id_array[every]
            values = key[every]
            if mode == "date":  # undated photos last, either way
                dated = ~np.isnan(values)
                return every[np.lexsort((tiebreak, -values if descending else values,
                                         ~dated))]
            values = np.nan_to_num(values, nan=-1.0)
            return every[np.lexsort((tiebreak, -values if descending else values))]

        return self.sorted_rows.order(columns, mode, key, descending, rows, sort)
