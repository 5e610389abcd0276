"""The query language: free text, sort keywords, filters and negative terms in one string.

    sunset rating>=7 width>=1920 ratio<1 size<5MB -people

Grammar (tokens are separated by white space; "double quotes" make one token):

    query    = { term }
    term     = filter | when | what | tags | who | keyword | negative | text
    filter   = FIELD OP VALUE                     rating>=7, size<5MB, ratio<1, format=png
    FIELD    = rating | width | height | size | ratio | pixels | format | score | date
             | sharp | faces
               (sharp: how sharp, the variance of the Laplacian at thumbnail scale;
               blurred shots measure under about 100;
               score: the cosine similarity to the free text or to similar:ID, -1 to 1;
               a relevance cutoff such as score>=0.25; date: YYYY, YYYY-MM or
               YYYY-MM-DD, compared with the capture time)
    when     = date:PERIOD | year:YYYY | before:PERIOD | after:PERIOD
    what     = camera:TEXT | place:TEXT | has:gps      (TEXT: part of the name, any case)
             | text:WORDS | has:text  (WORDS: words read in the photo, in that order, any
               case and accents, the last one also as a prefix; search/words.py)
    tags     = tag:NAME (a keyword from the photo's files or a confirmed concept; a
               hierarchical keyword answers to its path and to each level, any case)
             | tag~:NAME (a concept's suggestions above its threshold, not yet answered)
             | -tag:NAME (photos without that tag)
    who      = person:NAME (a name, any case, or a person's id; one per person wanted,
               all of them in the photo) | faces:N | faces>=N (faces found) | unnamed:
               (a face that is in no named person)
    OP       = ">=" | "<=" | ">" | "<" | "=" | "!="
    VALUE    = NUMBER [UNIT]    size: B KB MB GB (powers of 1000), KiB MiB GiB;
                                pixels: MP (millions); format: a word (jpeg, png, ...)
    keyword  = rating | random | file-size | proportion | resolution | similarity | date
             | sharpness | similar:ID | order:asc | order:desc | seed:N | lang:CODE
    negative = "-" WORD           pushes results away from that concept
    text     = any other token    joined into the semantic query

A token that looks like a filter (a field name followed by an operator) but
does not parse is an error naming that token; it is never silently searched
as text.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

FORMAT_NAMES = {"jpg": "jpeg", "jpe": "jpeg", "heic": "heif", "hif": "heif", "tif": "tiff",
                "jpegxl": "jxl"}
"""What people type for a format, to the name the metadata stage records (Pillow's)."""
FORMAT_FAMILIES = {"jpeg": ("jpeg", "mpo")}
"""Formats recorded under more than one name: a phone JPEG with a depth map or a second
picture inside is an MPO to Pillow, and a JPEG to everyone else."""
FIELDS = ("rating", "width", "height", "size", "ratio", "pixels", "format", "score", "date",
          "sharp", "faces")
PEOPLE_FIELDS = ("person", "unnamed", "faces")
STATE_FILTERS = {"eyes": ("open", "closed"), "face": ("sharp", "blurry"),
                 "exposure": ("under", "over", "ok")}
"""Filters that name a state (eyes:closed), answered from the face_quality stage."""
"""Filters answered by the people of the library, not by the catalog's columns."""
TAG_FIELDS = ("tag",)
"""Filters answered by the tag vocabulary (search/tags.py) and the concepts."""
WORD_FIELDS = ("text", "has_text")
"""Filters answered by the words read in the photos (search/words.py)."""
SORT_KEYWORDS = ("rating", "random", "file-size", "proportion", "resolution", "similarity",
                 "date", "sharpness", "person")
PERIOD_RE = re.compile(r"^(?P<y>\d{4})(?:-(?P<m>\d{1,2})(?:-(?P<d>\d{1,2}))?)?$")
TEXT_FIELDS = ("camera", "place")
SIZE_UNITS = {"b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "kib": 1024, "mib": 1024**2,
              "gib": 1024**3}
FILTER_RE = re.compile(r"^(?P<field>[a-z_]+)(?P<op>>=|<=|!=|>|<|=)(?P<value>.*)$", re.I)
NUMBER_RE = re.compile(r"^(?P<num>[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)(?P<unit>[a-z]*)$", re.I)
TAG_RE = re.compile(r"^(?P<not>-?)tag(?P<suggested>~?):(?P<name>.*)$", re.I | re.S)
ID_RE = re.compile(r"^[0-9a-f]{64}$")


class QueryError(ValueError):
    """A malformed query; `token` is the piece at fault, for the message and the UI."""

    def __init__(self, message: str, token: str, position: int) -> None:
        super().__init__(message)
        self.token = token
        self.position = position


@dataclass(frozen=True)
class Filter:
    field: str
    op: str
    value: float | str

    def accepts_score(self, score: float) -> bool:
        value = float(self.value)
        return {">=": score >= value, "<=": score <= value, ">": score > value,
                "<": score < value, "=": score == value, "!=": score != value}[self.op]


@dataclass
class Query:
    text: str = ""
    negative: list[str] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    sort: str | None = None  # one of SORT_KEYWORDS, or "similar"
    similar_to: str | None = None
    order: str | None = None  # "asc" / "desc"; None means the mode's default (descending)
    seed: int | None = None
    language: str | None = None  # lang:CODE, for multilingual models that take one

    @property
    def mode(self) -> str:
        if self.sort is not None:
            return self.sort
        return "text" if self.text or self.negative else "all"


def tokenize(raw: str) -> list[tuple[str, int]]:
    """Tokens with their character offsets. Double quotes group words (and are dropped);
    inside them a backslash makes the next character plain (\\" a quote, \\\\ a
    backslash), so any name can be written (`quoted` does it); an unbalanced quote is an
    error."""
    tokens: list[tuple[str, int]] = []
    i, n = 0, len(raw)
    while i < n:
        if raw[i].isspace():
            i += 1
            continue
        start, parts = i, list[str]()
        while i < n and not raw[i].isspace():
            if raw[i] == '"':
                i = _quoted_part(raw, i, parts)
            else:
                parts.append(raw[i])
                i += 1
        token = "".join(parts)
        if token:
            tokens.append((token, start))
    return tokens


def _quoted_part(raw: str, opening: int, parts: list[str]) -> int:
    """Read a quoted run starting at `opening` into `parts`; the index after it."""
    i = opening + 1
    while i < len(raw):
        if raw[i] == "\\" and i + 1 < len(raw):
            parts.append(raw[i + 1])
            i += 2
        elif raw[i] == '"':
            return i + 1
        else:
            parts.append(raw[i])
            i += 1
    raise QueryError("unbalanced quote", raw[opening:], opening)


def quoted(text: str) -> str:
    """`text` as one quoted token the tokenizer reads back exactly (a name in a link)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'



def parse_value(field_name: str, text: str, token: str, position: int) -> float | str:
    if field_name == "format":
        if not re.fullmatch(r"[a-z0-9]+", text, re.I):
            raise QueryError(f"'{token}': format needs a word like jpeg or png", token, position)
        value = text.lower()
        return FORMAT_NAMES.get(value, value)
    match = NUMBER_RE.match(text)
    if not match:
        raise QueryError(f"'{token}': {field_name} needs a number", token, position)
    number, unit = float(match["num"]), match["unit"].lower()
    if field_name == "size":
        if unit and unit not in SIZE_UNITS:
            raise QueryError(f"'{token}': unknown size unit '{match['unit']}' "
                             "(use B, KB, MB, GB, KiB, MiB or GiB)", token, position)
        return number * SIZE_UNITS.get(unit, 1)
    if field_name == "pixels" and unit in ("mp", "m"):
        return number * 1e6
    if unit:
        raise QueryError(f"'{token}': {field_name} takes no unit '{match['unit']}'", token,
                         position)
    if field_name == "rating" and not 0 <= number <= 10:
        raise QueryError(f"'{token}': ratings go from 0 to 10", token, position)
    if field_name == "score" and not -1 <= number <= 1:
        raise QueryError(f"'{token}': a score is a cosine similarity, from -1 to 1", token,
                         position)
    return number


def parse(raw: str) -> Query:
    query = Query()
    words: list[str] = []
    for token, position in tokenize(raw):
        lower = token.lower()
        filter_match = FILTER_RE.match(token)
        if filter_match and filter_match["field"].lower() == "date":
            query.filters.extend(date_filters(filter_match["op"], filter_match["value"], token,
                                              position))
        elif filter_match and filter_match["field"].lower() in FIELDS:
            name = filter_match["field"].lower()
            value = parse_value(name, filter_match["value"], token, position)
            if name == "format" and filter_match["op"] not in ("=", "!="):
                raise QueryError(f"'{token}': format takes = or !=", token, position)
            query.filters.append(Filter(name, filter_match["op"], value))
        elif filter_match and filter_match["field"].lower() not in FIELDS and any(
                op in token for op in (">", "<")):
            raise QueryError(f"'{token}': unknown filter '{filter_match['field']}' "
                             f"(filters: {', '.join(FIELDS)})", token, position)
        elif lower in SORT_KEYWORDS:
            set_sort(query, lower, token, position)
        elif lower.split(":", 1)[0] in ("date", "year", "before", "after") and ":" in lower:
            key, value = token.split(":", 1)
            op = {"date": "=", "year": "=", "before": "<", "after": ">"}[key.lower()]
            if key.lower() == "year" and not re.fullmatch(r"\d{4}", value):
                raise QueryError(f"'{token}': year: needs a year like 2023", token, position)
            query.filters.extend(date_filters(op, value, token, position))
        elif lower.split(":", 1)[0] in TEXT_FIELDS and ":" in lower:
            key, value = token.split(":", 1)
            if not value.strip():
                raise QueryError(f"'{token}': {key.lower()}: needs a name, like "
                                 f'{key.lower()}:"iPhone 13"', token, position)
            query.filters.append(Filter(key.lower(), "~", value.strip().lower()))
        elif lower.startswith("person:"):
            name = token.split(":", 1)[1].strip()
            if not name:
                raise QueryError(f"'{token}': person: needs a name, like person:\"Ana\"", token,
                                 position)
            query.filters.append(Filter("person", "=", name))
        elif lower.startswith("faces:"):
            count = lower.split(":", 1)[1]
            if not count.isdigit():
                raise QueryError(f"'{token}': faces: needs a whole number, like faces:0", token,
                                 position)
            query.filters.append(Filter("faces", "=", float(count)))
        elif lower.split(":", 1)[0] in STATE_FILTERS and ":" in lower:
            key, value = lower.split(":", 1)
            if value not in STATE_FILTERS[key]:
                raise QueryError(f"'{token}': {key}: takes "
                                 f"{' or '.join(STATE_FILTERS[key])}", token, position)
            query.filters.append(Filter(key, "=", value))
        elif lower == "misfire:":
            query.filters.append(Filter("misfire", "=", 1.0))
        elif lower == "unnamed:":
            query.filters.append(Filter("unnamed", "=", 1.0))
        elif lower.startswith("has:"):
            if lower not in ("has:gps", "has:text"):
                raise QueryError(f"'{token}': has: takes gps or text", token, position)
            query.filters.append(Filter("gps" if lower == "has:gps" else "has_text", "=", 1.0))
        elif lower.startswith("text:"):
            phrase = token.split(":", 1)[1].strip()
            if not any(c.isalnum() for c in phrase):
                raise QueryError(f"'{token}': text: needs words, like text:\"wifi password\"",
                                 token, position)
            query.filters.append(Filter("text", "~", phrase))
        elif (tag := TAG_RE.match(token)) is not None:
            name = tag["name"].strip()
            if not name:
                raise QueryError(f"'{token}': tag: needs a name, like tag:\"Rex\"", token,
                                 position)
            op = "!=" if tag["not"] else "~" if tag["suggested"] else "="
            if tag["not"] and tag["suggested"]:
                raise QueryError(f"'{token}': -tag~: is not a filter; use -tag:", token,
                                 position)
            query.filters.append(Filter("tag", op, name))
        elif lower.startswith("similar:"):
            target = lower.split(":", 1)[1]
            if not ID_RE.match(target):
                raise QueryError(f"'{token}': similar: needs an image id (64 hex digits)", token,
                                 position)
            set_sort(query, "similar", token, position)
            query.similar_to = target
        elif lower.startswith("order:"):
            order = lower.split(":", 1)[1]
            if order not in ("asc", "desc"):
                raise QueryError(f"'{token}': order is asc or desc", token, position)
            query.order = order
        elif lower.startswith("lang:"):
            language = token.split(":", 1)[1]
            if not re.fullmatch(r"[A-Za-z]{2,3}(?:[-_][A-Za-z]{2,4})?", language):
                raise QueryError(f"'{token}': lang: needs a language code like fr, pt-BR or "
                                 "fra_Latn", token, position)
            query.language = language
        elif lower.startswith("seed:"):
            seed = lower.split(":", 1)[1]
            if not seed.isdigit():
                raise QueryError(f"'{token}': seed needs a whole number", token, position)
            query.seed = int(seed)
        elif token.startswith("-") and len(token) > 1 and not NUMBER_RE.match(token[1:]):
            query.negative.append(token[1:])
        else:
            words.append(token)
    query.text = " ".join(words)
    if any(f.field == "score" for f in query.filters) and not (
            query.text or query.negative or query.sort == "similar"):
        token = next(t for t, _ in tokenize(raw) if t.lower().startswith("score"))
        raise QueryError(f"'{token}': a score needs something to compare with: free text or "
                         "similar:ID", token, raw.lower().find("score"))
    return query


def period(text: str, token: str, position: int) -> tuple[float, float]:
    """'2023', '2023-07' or '2023-07-14' -> its start and end, as seconds of wall-clock
    time read as UTC (how capture times are kept)."""
    match = PERIOD_RE.match(text)
    try:
        if not match:
            raise ValueError(text)
        year, month, day = int(match["y"]), match["m"], match["d"]
        if day is not None:
            start = dt.datetime(year, int(month), int(day), tzinfo=dt.UTC)
            end = start + dt.timedelta(days=1)
        elif month is not None:
            start = dt.datetime(year, int(month), 1, tzinfo=dt.UTC)
            end = dt.datetime(year + int(month) // 12, int(month) % 12 + 1, 1, tzinfo=dt.UTC)
        else:
            start, end = (dt.datetime(year, 1, 1, tzinfo=dt.UTC),
                          dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC))
    except ValueError:
        raise QueryError(f"'{token}': a date is YYYY, YYYY-MM or YYYY-MM-DD", token,
                         position) from None
    return start.timestamp(), end.timestamp()


def date_filters(op: str, text: str, token: str, position: int) -> list[Filter]:
    """A date comparison as bounds on the capture time: date=2023-07 is all of July,
    date>2023-07 starts in August, date<=2023-07 ends with July."""
    start, end = period(text, token, position)
    bounds = {"=": [(">=", start), ("<", end)], ">=": [(">=", start)], ">": [(">=", end)],
              "<": [("<", start)], "<=": [("<", end)]}.get(op)
    if bounds is None:
        raise QueryError(f"'{token}': dates compare with =, <, <=, > or >=", token, position)
    return [Filter("taken", o, v) for o, v in bounds]


def set_sort(query: Query, mode: str, token: str, position: int) -> None:
    if query.sort is not None and query.sort != mode:
        raise QueryError(f"'{token}': only one sort keyword per query (already "
                         f"'{query.sort}')", token, position)
    query.sort = mode
