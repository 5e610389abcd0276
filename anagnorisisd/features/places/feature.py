"""The places feature: `place:` (the nearest town's name, any part of it, any case) and
`has:gps`, answered from the catalog's columns the metadata stage fills."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.feature import Feature, Word
from anagnorisisd.search.query import Query, Token, needs_value


def parse_place(query: Query, token: Token) -> None:
    query.add("place", "~", needs_value(token, "place:Lisbon").lower())


def parse_gps(query: Query, token: Token) -> None:
    query.add("gps", "!=" if token.negated else "=", 1.0)


class PlacesFeature(Feature):
    name: ClassVar[str] = "places"
    stages: ClassVar[tuple[str, ...]] = ("meta",)

    @classmethod
    def words(cls) -> Iterable[Word]:
        return [Word("place", "key", "taken near a town, any part of its name: place:Lisbon",
                     parse_place),
                Word("has:gps", "exact", "with a position (-has:gps: without one)", parse_gps,
                     ("gps",), negatable=True)]

    def match(self, filter_: Any, columns: Any) -> NDArray[np.bool_]:
        if filter_.field == "place":
            return np.asarray(np.char.find(columns.place, str(filter_.value)) >= 0)
        has = np.asarray(columns.has_gps, dtype=bool)
        return has if filter_.op == "=" else ~has
