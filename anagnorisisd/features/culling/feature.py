"""The culling feature: groups of shots and their keepers (grouping.py), the person's
picks, rejects and labels (review.py), the words that say how a shot came out
(signals.py), and their routes."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.events import FlagsAdopted, Hub
from anagnorisisd.feature import Feature, FeatureContext, Route, Word
from anagnorisisd.features.culling import signals
from anagnorisisd.features.culling.grouping import Culling
from anagnorisisd.features.culling.review import Reviews
from anagnorisisd.features.culling.stacks import StackRules


class CullingFeature(Feature):
    name: ClassVar[str] = "culling"
    stages: ClassVar[tuple[str, ...]] = ("quality", "face_quality")

    def __init__(self, context: FeatureContext) -> None:
        super().__init__(context)
        config = context.config
        self.culling = Culling(context.store, context.search,
                               StackRules(config.stacks.gap_s, config.stacks.similarity),
                               config.index.duplicate_threshold)
        self.reviews = Reviews(context.store, self.culling, context.hub)

    @classmethod
    def words(cls) -> Iterable[Word]:
        return signals.WORDS

    def routes(self) -> Iterable[Route]:
        from anagnorisisd.features.culling.routes import routes  # the web server's, read by serve

        return routes()

    def subscribe(self, hub: Hub) -> None:
        hub.subscribe(FlagsAdopted, lambda e: self.reviews.adopt(e.content, **{
            k: v for k, v in e.changes.items() if k in ("decision", "label")})
            if {"decision", "label"} & set(e.changes) else None,
            "culling: a sidecar's newer pick, reject or label")

    def start(self) -> None:
        self.context.schedule(self.culling.refresh, self.context.config.index.check_interval_s,
                              "stacks")

    def status(self) -> dict[str, Any]:
        return {"culling": {"groupings": self.culling.groupings}}

    def ask(self, count: int) -> list[tuple[bytes, str]]:
        if count < 2:
            return []
        return [(c, "the keeper of its group is a close call")
                for c in self.reviews.uncertain(count)]

    def describe(self, content: bytes) -> dict[str, Any]:
        return {"decision": self.reviews.decision(content),
                "label": self.reviews.label(content)}

    def match(self, filter_: Any, columns: Any) -> NDArray[np.bool_]:
        return signals.matches(filter_, columns)

    def order(self, mode: str, columns: Any, rows: NDArray[np.intp],
              descending: bool) -> NDArray[np.intp]:
        return signals.sharpest(columns, rows, descending)
