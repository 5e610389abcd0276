"""The concepts feature: `tag:"Rex"` (a keyword from the photo's files, or a confirmed
concept), `tag~:"Rex"` (a concept's suggestions) and `-tag:"Rex"`; the concepts learned
from the person's answers (service.py, learner.py), trained on a thread of their own;
GET /api/tags and the concept routes."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.events import ContentChanged, Hub, ModelReady, StageResult
from anagnorisisd.feature import Feature, FeatureContext, Route, Word, read_modules
from anagnorisisd.features.concepts.service import Concepts
from anagnorisisd.search.query import Query, Token
from anagnorisisd.search.set_filters import rows_of


def parse_tag(query: Query, token: Token) -> None:
    name = token.value.strip()
    suggested = token.raw.lstrip("-").lower().startswith("tag~")
    if not name:
        raise token.error('tag: needs a name, like tag:"Rex"')
    query.add("tag", "!=" if token.negated else "~" if suggested else "=", name)


class ConceptsFeature(Feature):
    name: ClassVar[str] = "concepts"
    stages: ClassVar[tuple[str, ...]] = ("clip",)

    def __init__(self, context: FeatureContext) -> None:
        super().__init__(context)
        self.concepts = Concepts(context.store, context.search, context.hub)
        self.concepts.read()  # answers are there before the server answers

    @classmethod
    def words(cls) -> Iterable[Word]:
        return [Word("tag", "key", 'a keyword from the photo\'s files or a confirmed concept '
                     '(a hierarchy answers to each level): tag:"Rex"; -tag:"Rex" without it',
                     parse_tag, negatable=True),
                Word("tag~", "key", 'a concept\'s suggestions, not yet answered: tag~:"Rex"',
                     parse_tag, ("tag",))]

    def routes(self) -> Iterable[Route]:
        from anagnorisisd.features.concepts.routes import routes  # the web server's, read by serve

        return routes()

    def subscribe(self, hub: Hub) -> None:
        concepts = self.concepts
        hub.subscribe(StageResult, lambda e: concepts.on_result(e.stage, e.content, e.output),
                      "concepts: probabilities for new images")
        hub.subscribe(ContentChanged, lambda e: concepts.on_content(e.born, e.died),
                      "concepts: confirmed tags of photos gone and back")
        hub.subscribe(ModelReady, lambda e: concepts.on_model_ready(),
                      "concepts: scored, or trained again, with the model's vectors")

    def load(self) -> None:
        self.concepts.load()

    def start(self) -> None:
        # scikit-learn, read at the daemon's start on a thread of its own (two seconds): a
        # command that only searches never pays for it, and the daemon's start never waits
        threading.Thread(target=read_modules, args=(
            "sklearn.linear_model", "sklearn.metrics", "sklearn.model_selection"),
            name="read-scikit-learn", daemon=True).start()

        self.concepts.start()

    def stop(self) -> None:
        self.concepts.stop()

    def status(self) -> dict[str, Any]:
        return {"concepts": {"trainings": self.concepts.trainings,
                             "training": sorted(c for c, state in self.concepts.state.items()
                                                if state == "training")}}

    def describe(self, content: bytes) -> dict[str, Any]:
        return {"suggested_tags": self.concepts.suggested_for(content)}

    def match(self, filter_: Any, columns: Any) -> NDArray[np.bool_]:
        """tag:NAME (the tag book's, where confirmed concepts are tags too), tag~:NAME (the
        concepts' suggestions) and -tag:NAME."""
        name = str(filter_.value)
        if filter_.op == "~":
            return rows_of(self.concepts.suggested(name, True), columns)
        passing = np.zeros(len(columns.ids), dtype=bool)
        passing[self.context.catalog.tags.rows(name, columns)] = True
        return ~passing if filter_.op == "!=" else passing
