"""Memories: the photos taken on this day in the years before, a group per year, each
ranked by the person's own taste (their rating, then their evaluator's prediction), with
near-duplicates folded into the best of them so a burst is one memory, not twelve."""

from __future__ import annotations

import datetime as dt
from calendar import isleap
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

PER_YEAR = 24
FOLD_COSINE = 0.95
"""Two photos of a memory this alike (CLIP cosine) are one moment: the better one stands
for both. The duplicates view's own threshold (search.service)."""


def calendar(taken: NDArray[np.float64]) -> tuple[NDArray[np.int64], NDArray[np.int64],
                                                   NDArray[np.int64]]:
    """Year, month and day of each capture time (the photo's own clock, kept as UTC), -1
    where undated; vectorised, a few milliseconds for 100,000 photos."""
    dated = ~np.isnan(taken)
    days = np.where(dated, np.floor(np.nan_to_num(taken) / 86400), 0).astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (days - months).astype(np.int64) + 1
    return np.where(dated, year, -1), np.where(dated, month, -1), np.where(dated, day, -1)


def ranked(rows: NDArray[np.intp], columns: Any) -> NDArray[np.intp]:
    """Best first: a rating of the person's own before a prediction at the same value,
    unrated last, then the earlier shot first."""
    rating = columns.rating[rows]
    rated = ~np.isnan(rating)
    value = np.where(rated, rating, 0.0)
    user = columns.user_rated[rows]
    taken = np.nan_to_num(columns.taken[rows], nan=np.inf)
    return rows[np.lexsort((taken, ~user, -value, ~rated))]


def folded(order: list[bytes], vector_of: Callable[[bytes], Any],
           limit: int) -> list[tuple[bytes, int]]:
    """The photos in order, each near-duplicate of a better one folded into it; how many
    each stands for. Photos with no vector yet stand alone."""
    kept: list[tuple[bytes, Any]] = []
    count: dict[bytes, int] = {}
    for content in order:
        vector = vector_of(content)
        home = None if vector is None else next(
            (k for k, v in kept if v is not None and float(v @ vector) >= FOLD_COSINE), None)
        if home is not None:
            count[home] += 1
            continue
        if len(kept) < limit:
            kept.append((content, vector))
            count[content] = 1
    return [(c, count[c]) for c, _v in kept]


def years_ago(years: int) -> str:
    return "a year ago" if years == 1 else f"{years} years ago"


def on_this_day(day: dt.date, columns: Any, shown: NDArray[np.bool_],
                vector_of: Callable[[bytes], Any],
                per_year: int = PER_YEAR) -> list[dict[str, Any]]:
    """A group per earlier year with photos taken on `day`'s month and day (29 February
    is remembered on the 28th in other years), the most recent year first."""
    year, month, date = calendar(columns.taken)
    match = date == day.day
    if day.month == 2 and day.day == 28 and not isleap(day.year):
        match |= date == 29
    same = shown & (month == day.month) & match & (year < day.year)
    groups = []
    for when in sorted({int(y) for y in year[same]}, reverse=True):
        rows = ranked(np.flatnonzero(same & (year == when)), columns)
        items = folded([columns.ids[i] for i in rows], vector_of, per_year)
        then = day.replace(year=when)  # a 29 February only matches in leap years
        groups.append({"title": f"{years_ago(day.year - when)}: {then.day} {then:%B %Y}",
                       "years_ago": day.year - when, "year": when, "total": len(rows),
                       "items": [{"id": c.hex(), "stands_for": n} for c, n in items]})
    return groups
