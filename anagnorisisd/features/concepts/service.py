"""Personal concepts: "Rex", "our old house", taught from a few photos, asked about next.

The person names a concept and answers yes or no about photos; a classifier over the
stored image vectors (concepts/learner.py) gives every photo a probability, and those
above the concept's threshold that nobody has answered yet are its suggestions. "Yes"
answers are the concept's tag (``tag:"Rex"``), suggestions its ``tag~:"Rex"``.

Training runs on one background thread: answers schedule it, a burst of answers makes
one run, and no request waits for it except an explicit POST …/train, which runs on
the HTTP server's blocking pool. A concept trained on another model's vectors (the
person switched CLIP models) trains itself again on the new model's vectors.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.events import FlagsChanged, Hub
from anagnorisisd.features.concepts import learner
from anagnorisisd.features.concepts.book import ANSWERS, ConceptBook, new_concept_id
from anagnorisisd.search.service import SearchService, decode_embedding
from anagnorisisd.search.tags import fold
from anagnorisisd.store.database import Store
from anagnorisisd.strings import MAX_NAME, name_problem

log = logging.getLogger(__name__)
MAX_CONCEPTS = 1000
SETTLE_S = 1.0
"""How long training waits after an answer for more answers to come."""


class NoSuchConcept(KeyError):
    pass


class ConceptError(ValueError):
    """A request about concepts that cannot be met, with the reason in one sentence."""


@dataclass
class Concept:
    id: str
    name: str
    created: float
    scorer: learner.Scorer | None = None
    identity: str | None = None
    """The model whose vectors the scorer was trained on."""
    threshold: float = 0.5
    metrics: dict[str, Any] = field(default_factory=dict)
    probabilities: dict[bytes, float] = field(default_factory=dict)
    skipped: set[bytes] = field(default_factory=set)

    def record(self) -> dict[str, Any]:
        return {"name": self.name, "created": self.created, "identity": self.identity,
                "threshold": self.threshold, "metrics": self.metrics,
                "scorer": self.scorer.state() if self.scorer else None}


class Concepts:
    def __init__(self, store: Store, search: SearchService, hub: Hub | None = None) -> None:
        self.book = ConceptBook(store)
        self.search = search
        self.hub = hub
        """Hears FlagsChanged ("subjects") for every photo whose answers changed."""
        self.concepts: dict[str, Concept] = {}
        self.answers: dict[bytes, dict[str, str]] = {}
        self._lock = threading.RLock()
        self._wanted: dict[str, float] = {}
        """Concepts to train, with when the last answer came."""
        self._training = threading.Lock()
        self._dirty: set[str] = set()
        """Concepts with answers (or examples' vectors) newer than their training."""
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.state: dict[str, str] = {}
        """Per concept: "training", or why it was not trained."""
        self.trainings = 0
        """Trainings finished since the start: the panel's concept page redraws its numbers
        and suggestions when this moves (a training in the background changed them)."""

    # ------------------------------------------------------------ lifecycle
    def read(self) -> None:
        """The concepts and answers from the store: small and quick, done before the
        server answers, so no request ever finds a concept missing after a restart."""
        with self._lock:
            for cid, rec in self.book.load_concepts().items():
                concept = Concept(cid, str(rec["name"]), float(rec.get("created", 0.0)),
                                  identity=rec.get("identity"),
                                  threshold=float(rec.get("threshold", 0.5)),
                                  metrics=dict(rec.get("metrics") or {}))
                if isinstance(rec.get("scorer"), dict):
                    concept.scorer = learner.Scorer.restore(rec["scorer"])
                self.concepts[cid] = concept
            self.answers = {c: a for c, a in self.book.all_answers() if a}

    def load(self) -> None:
        """Put the confirmed tags in place and score the library with each saved scorer
        (or train again, for another model's); after the catalog has loaded."""
        for content in self.answers:
            self._retag(content)
        self.on_model_ready()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="concepts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)

    # ------------------------------------------------------------- editing
    def create(self, name: Any) -> Concept:
        name = clean_name(name)
        with self._lock:
            if any(fold(c.name) == fold(name) for c in self.concepts.values()):
                raise ConceptError(f'there is already a concept named "{name}"')
            if len(self.concepts) >= MAX_CONCEPTS:
                raise ConceptError(f"at most {MAX_CONCEPTS} concepts")
            concept = Concept(new_concept_id(), name, time.time())
            self.concepts[concept.id] = concept
            self._save()
        return concept

    def get(self, cid: str) -> Concept:
        concept = self.concepts.get(cid)
        if concept is None:
            raise NoSuchConcept(f"no concept {cid}")
        return concept

    def answer(self, cid: str, contents: list[bytes], answer: str) -> int:
        """Record answers ("yes", "no"; "skip" asks later; "clear" forgets one), written to
        the store before this returns; training follows in the background."""
        concept = self.get(cid)
        if answer not in (*ANSWERS, "skip", "clear"):
            raise ConceptError('answer is "yes", "no", "skip" or "clear"')
        if answer == "skip":
            concept.skipped.update(contents)
            return len(contents)
        with self._lock:
            changed: dict[bytes, dict[str, str]] = {}
            for content in contents:
                given = dict(self.answers.get(content, {}))
                if answer == "clear":
                    given.pop(cid, None)
                else:
                    given[cid] = answer
                changed[content] = given
            self.book.save_answers(changed)
            for content, given in changed.items():
                if given:
                    self.answers[content] = given
                else:
                    self.answers.pop(content, None)
                self._retag(content)
        self.schedule(cid)
        if self.hub is not None:  # each listener guarded by the hub, after the commit
            for content in contents:
                self.hub.publish(FlagsChanged(content, frozenset({"subjects"})))
        return len(contents)

    def _retag(self, content: bytes) -> None:
        """The photo's confirmed concepts, as its "concept" tags (live photos only)."""
        if not self.search.store.is_live(content):
            self.search.catalog.tags.put(content, "concept", [])
            return
        names = [(self.concepts[cid].name, "concept")
                 for cid, given in self.answers.get(content, {}).items()
                 if given == "yes" and cid in self.concepts]
        self.search.catalog.tags.put(content, "concept", names)

    def confirmed_names(self, content: bytes) -> tuple[str, ...]:
        """The names of the concepts confirmed for a photo: keywords its sidecars hold."""
        given = self.answers.get(content, {})
        return tuple(c.name for cid, c in list(self.concepts.items())
                     if given.get(cid) == "yes")

    def on_content(self, born: list[bytes], died: list[bytes]) -> None:
        for content in [*born, *died]:
            if content in self.answers:
                self._retag(content)

    def _save(self) -> None:
        self.book.save_concepts({cid: c.record() for cid, c in self.concepts.items()})

    # ------------------------------------------------------------ training
    def schedule(self, cid: str, settle: bool = True, retrain: bool = True) -> None:
        """Train the concept soon (or only score the library with it, retrain=False)."""
        with self._wake:
            if retrain:
                self._dirty.add(cid)
            self._wanted[cid] = time.monotonic() + (SETTLE_S if settle else 0.0)
            self._wake.notify_all()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopping:
                    due = [c for c, at in self._wanted.items() if at <= time.monotonic()]
                    if due:
                        break
                    wait = min((at for at in self._wanted.values()), default=None)
                    self._wake.wait(None if wait is None else max(0.05, wait - time.monotonic()))
                if self._stopping:
                    return
                for cid in due:
                    self._wanted.pop(cid, None)
            for cid in due:
                try:
                    self.refresh(cid)
                except NoSuchConcept:
                    pass
                except Exception as exc:  # reported, never raised into the daemon
                    log.exception("training concept %s failed", cid)
                    self.state[cid] = f"training failed: {type(exc).__name__}: {exc}"

    def examples(self, cid: str) -> tuple[list[bytes], list[bytes]]:
        """The photos answered yes and no, live ones only."""
        yes: list[bytes] = []
        no: list[bytes] = []
        for content, given in list(self.answers.items()):
            if cid in given and content in self.search.catalog:
                (yes if given[cid] == "yes" else no).append(content)
        return yes, no

    def train(self, cid: str) -> Concept:
        """Train now on every answer and a sample of the library, then score every photo.

        One training at a time: a run that began before the last answers (on the
        concepts' thread) must not finish after a newer one (POST …/train) and put its
        older model back."""
        with self._training:
            return self._train(cid)

    def _train(self, cid: str) -> Concept:
        concept = self.get(cid)
        model = self.search.models.maybe_model()
        if model is None:
            self.state[cid] = "waiting for the CLIP model"
            raise ConceptError("no CLIP model is loaded: concepts learn from image vectors")
        self.state[cid] = "training"
        self._dirty.discard(cid)
        ids, matrix = self.library_vectors(model.identity)
        position = {c: i for i, c in enumerate(ids)}
        yes_ids, no_ids = self.examples(cid)
        yes = self._rows(yes_ids, position, matrix)
        no = self._rows(no_ids, position, matrix)
        answered = {position[c] for c in [*yes_ids, *no_ids] if c in position}
        pool = np.array([i for i in range(len(ids)) if i not in answered], dtype=np.intp)
        rng = np.random.default_rng(len(yes_ids) * 7919 + len(no_ids))
        sample = rng.choice(pool, min(learner.BACKGROUND, len(pool)), replace=False) \
            if len(pool) else pool
        trained = learner.train(yes, no, matrix[sample])
        if trained is None and concept.scorer is not None and len(yes) < len(yes_ids):
            # examples not yet embedded by this model (it was just switched): the last
            # scorer's suggestions stay until they are, and each one embedded retrains it
            self.state[cid] = (f"waiting for {len(yes_ids) - len(yes)} examples to be "
                               "embedded by the new model")
            return concept
        with self._lock:
            if trained is None:
                concept.scorer, concept.probabilities = None, {}
                concept.metrics = {"examples": len(yes), "not": len(no), "precision": None,
                                   "recall": None, "baseline": None,
                                   "verdict": learner.verdict(len(yes), None, 0.0)}
            else:
                concept.scorer, concept.threshold = trained.scorer, trained.threshold
                concept.metrics = {"examples": trained.examples, "not": len(no),
                                   "negatives": trained.negatives,
                                   "precision": trained.precision, "recall": trained.recall,
                                   "baseline": trained.baseline, "model": trained.scorer.kind,
                                   "candidates": trained.scores,
                                   "verdict": trained.verdict, "trained_at": time.time()}
                concept.probabilities = self._scored(trained.scorer, ids, matrix)
            concept.identity = model.identity
            # said with the numbers, so nobody reads new numbers beside "training"
            self.state[cid] = "trained" if trained else "not trained"
            self._save()
            self.trainings += 1
        return concept

    @staticmethod
    def _scored(scorer: learner.Scorer, ids: list[bytes],
                matrix: NDArray[np.float32]) -> dict[bytes, float]:
        if not ids:
            return {}
        return dict(zip(ids, scorer.probabilities(matrix).tolist(), strict=True))

    @staticmethod
    def _rows(contents: list[bytes], position: dict[bytes, int],
              matrix: NDArray[np.float32]) -> NDArray[np.float32]:
        rows = [position[c] for c in contents if c in position]
        return matrix[rows] if rows else np.zeros((0, matrix.shape[1]), np.float32)

    def library_vectors(self, identity: str) -> tuple[list[bytes], NDArray[np.float32]]:
        """Every live photo's vector of the current model: the index's float16 copy when
        the index is the current model's (search/index.py, half_vectors); else read from
        the store."""
        index = self.search.index.current
        if index is not None and index.identity == identity:
            ids, matrix = self.search.index.half_vectors()
        else:
            ids, rows = [], []
            with self.search.store.snapshot() as reads:  # one transaction, not one a photo
                for content in reads.live_hashes():
                    vector = self.search.stored_vector(content, identity, reads)
                    if vector is not None:
                        ids.append(content)
                        rows.append(vector)
            matrix = np.stack(rows) if rows else np.zeros((0, 1), np.float32)
        keep = [i for i, c in enumerate(ids) if c in self.search.catalog]
        if len(keep) != len(ids):
            ids, matrix = [ids[i] for i in keep], matrix[keep]
        return ids, matrix.astype(np.float32, copy=False)

    def on_result(self, stage: str, content: bytes, output: dict[str, Any]) -> None:
        """A newly embedded photo gets each concept's probability as it arrives; an
        example embedded by a model its concept was not trained on trains it again."""
        if stage != self.search.embedding_stage:
            return
        vector = decode_embedding(output)[np.newaxis]
        for concept in list(self.concepts.values()):
            if concept.scorer is not None and output.get("model") == concept.identity:
                concept.probabilities[content] = float(
                    concept.scorer.probabilities(vector)[0])
            elif concept.id in self.answers.get(content, {}):
                self.schedule(concept.id)  # an example embedded by another model

    def on_model_ready(self) -> None:
        """Every concept scored with the loaded model's vectors, or trained again where
        it was trained on another model's (the person switched models); on the concepts'
        thread, as the library's vectors take a while to gather."""
        for cid in list(self.concepts):
            self.schedule(cid, settle=False, retrain=False)

    def refresh(self, cid: str) -> None:
        """Score the library with the saved scorer when it is the current model's and no
        answer came since; else train."""
        concept = self.get(cid)
        model = self.search.models.maybe_model()
        if model is None:
            self.state[cid] = "waiting for the CLIP model"
            return
        if concept.identity == model.identity and concept.scorer is not None and \
                cid not in self._dirty:
            ids, matrix = self.library_vectors(model.identity)
            concept.probabilities = self._scored(concept.scorer, ids, matrix)
        elif concept.identity is not None or cid in self._dirty:
            self.train(cid)

    # ------------------------------------------------------------- reading
    def suggestions(self, cid: str) -> list[bytes]:
        """Unanswered photos above the threshold, the likeliest first."""
        concept = self.get(cid)
        found = [(p, c) for c, p in list(concept.probabilities.items())
                 if p >= concept.threshold and cid not in self.answers.get(c, {})
                 and c in self.search.catalog]
        return [c for _, c in sorted(found, key=lambda t: (-t[0], t[1]))]

    def suggested(self, name: str, suggested: bool) -> set[bytes]:
        """For search's tag~:NAME: every concept of that name's suggestions."""
        if not suggested:
            return set()
        wanted = fold(name)
        return {c for concept in list(self.concepts.values())
                if fold(concept.name) == wanted for c in self.suggestions(concept.id)}

    def suggested_for(self, content: bytes) -> list[str]:
        """The concepts suggesting this photo: above their threshold, not yet answered."""
        given = self.answers.get(content, {})
        return sorted(c.name for c in list(self.concepts.values())
                      if c.id not in given and content in c.probabilities
                      and c.probabilities[content] >= c.threshold)

    def ask_next(self, cid: str, count: int = 20) -> list[bytes]:
        """Photos to ask about next: those whose answer would teach most (nearest the
        threshold), not answered or skipped yet. Before any training: none."""
        concept = self.get(cid)
        candidates = [(c, p) for c, p in list(concept.probabilities.items())
                      if cid not in self.answers.get(c, {}) and c not in concept.skipped
                      and c in self.search.catalog]
        if not candidates:
            return []
        p = np.asarray([pr for _, pr in candidates], dtype=np.float64)
        chosen = learner.most_informative(p, concept.threshold, count)
        return [candidates[i][0] for i in chosen]

    def summary(self, cid: str) -> dict[str, Any]:
        with self._lock:  # the numbers and the state of one training, never of two
            return self._summary(cid)

    def _summary(self, cid: str) -> dict[str, Any]:
        concept = self.get(cid)
        yes, no = self.examples(cid)
        metrics = concept.metrics
        return {"id": concept.id, "name": concept.name, "examples": len(yes), "not": len(no),
                "precision": metrics.get("precision"), "recall": metrics.get("recall"),
                "baseline": metrics.get("baseline"), "threshold": round(concept.threshold, 4),
                "trained_on": metrics.get("examples"),
                "model": metrics.get("model"), "trained_with": concept.identity,
                "verdict": metrics.get("verdict") or learner.verdict(len(yes), None, 0.0),
                "state": self.state.get(cid, "trained" if concept.scorer else "not trained"),
                "suggestions": [c.hex() for c in self.suggestions(cid)],
                "example_ids": [c.hex() for c in yes],
                "notice": self.search.models.warning()}

    def listing(self) -> list[dict[str, Any]]:
        out = []
        for concept in sorted(self.concepts.values(), key=lambda c: c.name.casefold()):
            summary = self.summary(concept.id)
            summary["suggestions"] = len(summary["suggestions"])
            summary.pop("example_ids")
            out.append(summary)
        return out


def clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ConceptError('a concept needs a name: send {"name": "Rex"}')
    cleaned = " ".join(name.split())
    problem = name_problem(name if len(name) > MAX_NAME else cleaned, "concept",
                           forbidden="|/")
    if problem is not None:
        if "|" in cleaned or "/" in cleaned:
            problem += " (Lightroom and digiKam read them as keyword levels)"
        raise ConceptError(problem)
    return cleaned
