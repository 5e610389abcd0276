"""What a search answers: the hits of one page, and what the page says about them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass
class Hit:
    content: bytes
    score: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """What the features add about why it was found (Feature.annotate: the lines of text
    a result was found by, as `matched_text`)."""


@dataclass
class Page:
    total: int
    hits: list[Hit]
    years: list[tuple[int, int, int]] | None = None
    """For a date sort: (year, images, position of its first image) in the order shown,
    so a panel can jump to a year; undated images, last, are not a year."""
    notice: str | None = None
    """Why the order asked for could not be given (and what was shown instead)."""
    strong: int | None = None
    """For words searched by meaning: how many of the results match strongly (they come
    first); the rest are only the nearest of what there is."""
    later: bool = False
    """The order asked for is being worked out: asked again shortly, it is given."""


def years_in_order(taken: NDArray[np.float64]) -> list[tuple[int, int, int]]:
    """Runs of one year in capture times already sorted by date (wall clock as UTC seconds)."""
    dated = taken[~np.isnan(taken)]
    if not len(dated):
        return []
    years = dated.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970
    starts = np.flatnonzero(np.r_[True, years[1:] != years[:-1]])
    ends = np.r_[starts[1:], len(years)]
    return [(int(years[a]), int(b - a), int(a)) for a, b in zip(starts, ends, strict=True)]
