"""The query language's shape: free text, words with values, sort words and negative
terms in one string, split into tokens; what each word means is its feature's business.

    sunset rating>=7 width>=1920 ratio<1 size<5MB -people person:"Ana" tag~:Rex

Grammar (tokens are separated by white space; "double quotes" make one token, and inside
them a backslash makes the next character plain, \\" a quote and \\\\ a backslash):

    query    = { term }
    term     = compare | key | sort | negative | text
    compare  = WORD OP VALUE          rating>=7, size<5MB, faces>=2   (OP: >= <= > < = !=)
    key      = WORD ":" VALUE         person:"Ana", text:"wifi", has:gps, -tag:Rex
    sort     = WORD                   a sort word: rating, random, person, ...
    negative = "-" WORD               pushes results away from that concept
    text     = any other token        joined into the semantic query

Which words there are, what each takes and which feature answers it is the vocabulary's
(search/vocabulary.py, filled by the features: docs/query.md lists the built-in ones). A
token that looks like a word of the vocabulary but does not parse is an error naming that
token; it is never silently searched as text.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

OPERATORS = (">=", "<=", "!=", ">", "<", "=")
COMPARE_RE = re.compile(r"^(?P<field>[a-z_]+)(?P<op>>=|<=|!=|>|<|=)(?P<value>.*)$", re.I | re.S)
KEY_RE = re.compile(r"^(?P<not>-?)(?P<key>[a-z_~]+):(?P<value>.*)$", re.I | re.S)
NUMBER_RE = re.compile(r"^(?P<num>[0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)(?P<unit>[a-z]*)$", re.I)
PERIOD_RE = re.compile(r"^(?P<y>\d{4})(?:-(?P<m>\d{1,2})(?:-(?P<d>\d{1,2}))?)?$")
ID_RE = re.compile(r"^[0-9a-f]{64}$")


class QueryError(ValueError):
    """A malformed query; `token` is the piece at fault, for the message and the UI."""

    def __init__(self, message: str, token: str, position: int) -> None:
        super().__init__(message)
        self.token = token
        self.position = position


@dataclass(frozen=True)
class Filter:
    """One condition on the photos: `field` is named by the word that made it, whose
    feature answers it (the vocabulary knows which)."""

    field: str
    op: str
    value: float | str

    def accepts_score(self, score: float) -> bool:
        value = float(self.value)
        return {">=": score >= value, "<=": score <= value, ">": score > value,
                "<": score < value, "=": score == value, "!=": score != value}[self.op]


@dataclass(frozen=True)
class Token:
    """What a word's parser is handed: the whole token as typed (for errors), its value
    (after `WORD:` or the operator), the operator (":" for a key word, "" for a sort
    word), whether it was negated (`-tag:Rex`) and where it starts in the query."""

    raw: str
    value: str
    op: str
    position: int
    negated: bool = False

    def error(self, message: str) -> QueryError:
        """A QueryError about this token: `'TOKEN': message`."""
        return QueryError(f"'{self.raw}': {message}", self.raw, self.position)


@dataclass
class Query:
    text: str = ""
    negative: list[str] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    sort: str | None = None  # a sort word, or "similar"
    similar_to: str | None = None
    order: str | None = None  # "asc" / "desc"; None means the mode's default (descending)
    seed: int | None = None
    language: str | None = None  # lang:CODE, for multilingual models that take one

    @property
    def mode(self) -> str:
        if self.sort is not None:
            return self.sort
        return "text" if self.text or self.negative else "all"

    def add(self, name: str, op: str, value: float | str) -> None:
        """One more filter (what a word's parser calls)."""
        self.filters.append(Filter(name, op, value))

    def set_sort(self, mode: str, token: Token) -> None:
        if self.sort is not None and self.sort != mode:
            raise token.error(f"only one sort keyword per query (already '{self.sort}')")
        self.sort = mode

    def has(self, name: str) -> bool:
        return any(f.field == name for f in self.filters)


def tokenize(raw: str) -> list[tuple[str, int]]:
    """Tokens with their character offsets; an unbalanced quote is an error."""
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


# ------------------------------------------------------------------ values
def number(token: Token, units: dict[str, float] | None = None,
           low: float | None = None, high: float | None = None, what: str = "") -> float:
    """A number with an optional unit from `units` (multiplied in), within [low, high]."""
    name = what or token.raw.split(token.op, 1)[0] or "it"
    match = NUMBER_RE.match(token.value)
    if not match:
        raise token.error(f"{name} needs a number")
    value, unit = float(match["num"]), match["unit"].lower()
    if unit:
        if not units or unit not in units:
            raise token.error(
                f"{name} takes no unit '{match['unit']}'" if not units else
                f"unknown {name} unit '{match['unit']}' (use {', '.join(units_shown(units))})")
        value *= units[unit]
    if (low is not None and value < low) or (high is not None and value > high):
        raise token.error(f"{name} goes from {low:g} to {high:g}")
    return value


def units_shown(units: dict[str, float]) -> list[str]:
    shown = {"b": "B", "kb": "KB", "mb": "MB", "gb": "GB", "kib": "KiB", "mib": "MiB",
             "gib": "GiB", "mp": "MP", "m": "M"}
    return [shown.get(u, u) for u in units]


def period(text: str, token: Token) -> tuple[float, float]:
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
        raise token.error("a date is YYYY, YYYY-MM or YYYY-MM-DD") from None
    return start.timestamp(), end.timestamp()


def needs_value(token: Token, example: str) -> str:
    """The token's value, stripped; an error naming an example when there is none."""
    value = token.value.strip()
    if not value:
        raise token.error(f"{token.raw.split(':', 1)[0].lstrip('-')}: needs a value, like "
                          f"{example}")
    return value


Parser = Callable[[Query, Token], None]
"""What a Word's `parse` is: add what the token means to the query, or raise."""
