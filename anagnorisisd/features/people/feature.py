"""The people feature: the faces stage's faces joined into people (service.py), what is
asked of them (desk.py), the person's names and corrections and their undo
(corrections.py), the words `person:"Ana"`, `faces:N`, `faces>=N` and
`unnamed:`, the `person` sort, and the people and faces routes."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.events import ContentChanged, Hub, StageResult
from anagnorisisd.feature import Feature, FeatureContext, Route, Word, read_modules
from anagnorisisd.features.people.corrections import PeopleCorrections
from anagnorisisd.features.people.crops import FaceCrops
from anagnorisisd.features.people.desk import PeopleDesk
from anagnorisisd.features.people.service import People
from anagnorisisd.search.query import Query, Token, needs_value, number
from anagnorisisd.search.set_filters import rows_of

STOP_S = 10.0


def parse_person(query: Query, token: Token) -> None:
    query.add("person", "=", needs_value(token, 'person:"Ana"'))


def parse_faces(query: Query, token: Token) -> None:
    if token.op == ":":
        if not token.value.isdigit():
            raise token.error("faces: needs a whole number, like faces:0")
        query.add("faces", "=", float(token.value))
        return
    query.add("faces", token.op, number(token, what="faces"))


def parse_unnamed(query: Query, token: Token) -> None:
    query.add("unnamed", "=", 1.0)


class PeopleFeature(Feature):
    name: ClassVar[str] = "people"
    stages: ClassVar[tuple[str, ...]] = ("faces", "face_quality")

    def __init__(self, context: FeatureContext) -> None:
        super().__init__(context)
        self.faces_stage = context.stages.provider("faces")
        self.people = People(context.store, self.faces_stage)
        self.desk = PeopleDesk(self.people, context.stages.provider("face_quality"))
        self.corrections = PeopleCorrections(self.people)
        self.crops = FaceCrops(context.store, self.people, self.faces_stage)

    @classmethod
    def words(cls) -> Iterable[Word]:
        return [Word("person", "key", 'someone in the photo, by name (any case) or id; one '
                     'word per person wanted: person:"Ana"', parse_person),
                Word("faces", "key", "how many faces were found: faces:0", parse_faces),
                Word("faces", "compare", "how many faces: faces>=3", parse_faces),
                Word("unnamed:", "exact", "a face that is in no named person", parse_unnamed,
                     ("unnamed",)),
                Word("person", "sort", "photos of one person together, named people A to Z")]

    def routes(self) -> Iterable[Route]:
        from anagnorisisd.features.people.routes import routes  # the web server's, read by serve

        return routes()

    def subscribe(self, hub: Hub) -> None:
        people, stage = self.people, self.faces_stage
        hub.subscribe(StageResult, lambda e: people.on_result(e.content, e.output)
                      if e.stage == stage else None, "people: a photo's faces")
        hub.subscribe(ContentChanged, lambda e: people.on_content(e.born, e.died),
                      "people: photos gone and back")

    def load(self) -> None:
        self.people.load()
        self.corrections.load()

    def start(self) -> None:
        # the grouping's scipy and scikit-learn, read at the daemon's start on a thread of
        # their own (see the concepts feature's start)
        threading.Thread(target=read_modules, args=("scipy.sparse", "sklearn.cluster"),
                         name="read-scipy", daemon=True).start()

    def stop(self) -> None:
        self.people.stop(STOP_S)

    def status(self) -> dict[str, Any]:
        return {"people": self.desk.counts()}

    def annotate(self, hits: list[Any], query: Any) -> None:
        """A clip found by person:NAME opens where the person is first seen (unless a
        search by meaning already chose its moment)."""
        contents = {h.content for h in hits}
        for f in query.filters:
            if f.field == "person" and f.op == "=":
                seen = self.desk.seen_at(str(f.value), contents)
                for hit in hits:
                    if hit.content in seen:
                        hit.extra.setdefault("at_s", seen[hit.content])

    def match(self, filter_: Any, columns: Any) -> NDArray[np.bool_]:
        return rows_of(self.desk.passing(filter_), columns)

    def order(self, mode: str, columns: Any, rows: NDArray[np.intp],
              descending: bool) -> NDArray[np.intp]:
        """Photos of the same person together, newest first within each; photos with no
        one in them last whichever the order (`order:asc` reverses the people)."""
        ranks = self.desk.photo_order()
        nobody = len(ranks) + 1
        rank = np.asarray([ranks.get(columns.ids[i], nobody) for i in rows], dtype=np.float64)
        someone = rank < nobody
        taken = np.nan_to_num(columns.taken[rows], nan=-np.inf)
        rank = rank if descending else -rank
        order = np.lexsort((columns.id_array[rows], -taken, rank, ~someone))
        return rows[order]
