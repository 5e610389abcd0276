"""The ratings feature: `rating>=7` and the `rating` sort, the person's ratings (stored,
then told to the hub), the personal evaluator (trained on them, predicting the rest), and
what to rate next."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.events import FlagsAdopted, Hub, StageResult
from anagnorisisd.feature import Feature, FeatureContext, Route, Word
from anagnorisisd.features.ratings.service import Ratings
from anagnorisisd.features.ratings.trainer import Trainer
from anagnorisisd.search.query import Query, Token, number

STOP_S = 10.0


def parse_rating(query: Query, token: Token) -> None:
    query.add("rating", token.op, number(token, None, 0, 10, "rating"))


class RatingsFeature(Feature):
    name: ClassVar[str] = "ratings"
    stages: ClassVar[tuple[str, ...]] = ("clip",)

    def __init__(self, context: FeatureContext) -> None:
        super().__init__(context)
        self.ratings = Ratings(context.store, context.catalog, context.hub)
        self.trainer = Trainer(context.store, context.search,
                               context.config.data_dir / "evaluator")

    @classmethod
    def words(cls) -> Iterable[Word]:
        return [Word("rating", "compare", "your rating, else your evaluator's, 0-10: "
                     "rating>=7", parse_rating),
                Word("rating", "sort", "best rated first: yours, else your evaluator's")]

    def routes(self) -> Iterable[Route]:
        from anagnorisisd.features.ratings.routes import routes  # the web server's, read by serve

        return routes()

    def subscribe(self, hub: Hub) -> None:
        hub.subscribe(StageResult, lambda e: self.trainer.on_result(e.stage, e.content,
                                                                    e.output),
                      "ratings: the evaluator's predictions for new photos")
        hub.subscribe(FlagsAdopted, lambda e: self.ratings.adopt(e.content, e.changes["rating"])
                      if "rating" in e.changes else None, "ratings: a sidecar's newer rating")

    def stop(self) -> None:
        self.trainer.cancel()
        self.trainer.wait(STOP_S)

    def status(self) -> dict[str, Any]:
        current = self.trainer.current
        return {"evaluator": {"version": current.version if current else None,
                              "training": self.trainer.status.get("state")},
                "training": self.trainer.public_status()}

    def describe(self, content: bytes) -> dict[str, Any]:
        entry = self.context.catalog.get(content)
        current = self.trainer.current.version if self.trainer.current else None
        made = entry.model_version if entry else None
        return {"model_rating_stale": bool(made and made != current)}

    def ask(self, count: int) -> list[tuple[bytes, str]]:
        return [(c, "it would teach your evaluator most") for c in self.trainer.rate_next(count)]

    def match(self, filter_: Any, columns: Any) -> NDArray[np.bool_]:
        data = columns.rating
        ops = {">=": np.greater_equal, "<=": np.less_equal, ">": np.greater, "<": np.less,
               "=": np.equal, "!=": np.not_equal}
        with np.errstate(invalid="ignore"):
            return np.asarray(ops[filter_.op](data, filter_.value) & ~np.isnan(data))

    def order(self, mode: str, columns: Any, rows: NDArray[np.intp],
              descending: bool) -> NDArray[np.intp]:
        """The user's own rating where there is one, else the model's prediction. At equal
        values a user rating comes before a prediction, then larger files first, then the
        content id (so pages are stable). Unrated photos come last in both directions."""
        rating = columns.rating[rows]
        rated = ~np.isnan(rating)
        value = np.where(rated, rating, 0.0)
        user = columns.user_rated[rows].astype(float)
        sign = -1.0 if descending else 1.0
        # lexsort: the last key is the first. Unrated last; then value; user first; size.
        order = np.lexsort((columns.id_array[rows], -columns.size[rows], -user, sign * value,
                            ~rated))
        return rows[order]
