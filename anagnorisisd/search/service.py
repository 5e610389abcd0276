"""Every search mode over the catalog and the vector index, behind one `search` call.

Ordering rules, written down once:

- Every mode sorts descending by default and ascending with ``order:asc``.
- ``rating``: the user's own rating where there is one, else the model's
  prediction. At equal values a user rating comes before a prediction, then
  larger files first, then the content id (so pages are stable). Images with
  neither rating come last in both directions.
- ``random``: a permutation fixed by the seed, so page 2 continues page 1.
- ``file-size``, ``proportion`` (width / height), ``resolution`` (pixels):
  ties broken by content id.
- Free text: by cosine similarity to the query (minus the ``-terms``). With a
  sort keyword too, the text first selects its best matches (``text_limit``),
  which the keyword then orders.
- ``similarity``: the whole library in an order where each image is followed
  by its nearest unvisited neighbour (from the index), so near-duplicates sit
  side by side.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.feature import Feature
from anagnorisisd.ml.protocol import RemoteError, Stopped
from anagnorisisd.ml.service import ModelService, needs_model
from anagnorisisd.search.catalog import Catalog
from anagnorisisd.search.catalog_rows import Columns
from anagnorisisd.search.disjoint import joined_groups
from anagnorisisd.search.fusion import fuse
from anagnorisisd.search.index import VectorIndex
from anagnorisisd.search.index_build import BuildFailed
from anagnorisisd.search.pair_watch import PairWatch
from anagnorisisd.search.query import Query
from anagnorisisd.search.results import Hit, Page, years_in_order
from anagnorisisd.search.similarity import SimilarityOrder
from anagnorisisd.search.strength import BACKGROUND, strong_matches
from anagnorisisd.search.vocabulary import Vocabulary
from anagnorisisd.store.database import Store
from anagnorisisd.store.snapshot import Snapshot

log = logging.getLogger(__name__)
FEATURE_RANK, FEATURE_ANNOTATE = Feature.rank, Feature.annotate
FEATURE_MOMENTS, FEATURE_DUPLICATES = Feature.moments, Feature.duplicates
NEGATIVE_WEIGHT = 0.5
DEFAULT_DUPLICATE_THRESHOLD = 0.95


class SearchUnavailable(Exception):
    """The query needs embeddings and there is no model or index yet; said in one line."""


class NoSuchImage(LookupError):
    """A query names an image (similar:ID) that is not in the library."""


def decode_embedding(output: dict[str, Any]) -> NDArray[np.float32]:
    return np.frombuffer(output["embedding"], dtype=np.float16).astype(np.float32)


class SearchService:
    def __init__(self, store: Store, models: ModelService, index_dir: Path,
                 text_limit: int = 500, min_rebuild_interval_s: float = 60.0,
                 embedding_stage: str | None = "clip", metadata_stage: str | None = "meta",
                 quality_stage: str | None = "quality",
                 thumbnail_stage: str | None = "thumbnail",
                 signals_stage: str | None = None, catalog_file: Path | None = None,
                 ) -> None:
        self.store = store
        self.models = models
        self.embedding_stage = embedding_stage  # the stage that provides "embedding"
        self.language: str | None = None  # [model] language: queries' default language
        self.catalog = Catalog(store, metadata_stage, quality_stage, thumbnail_stage,
                               signals_stage, saved_at=catalog_file)
        self.index = VectorIndex(index_dir)
        self.pair_watch = PairWatch(store, self.catalog)
        self.similarity = SimilarityOrder(self.index)
        self.text_limit = text_limit
        self.min_rebuild_interval_s = min_rebuild_interval_s
        self.changed = True
        self._build_lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._index_for: str | None = None
        """The model identity whose saved index is loaded (_load_index)."""
        self._built_for: str | None = None
        """The model identity of the last build begun (rebuild_if_needed)."""
        self._started = False
        """The catalog is read (start): a ready model's index may be loaded now."""
        self._last_build = 0.0
        self.vocabulary = Vocabulary()
        """Every query word, and the feature that answers it (set by the library once the
        features are loaded: use_features)."""
        self.answerers: dict[str, Any] = {}
        """Feature name -> the feature (Feature.match, Feature.order)."""
        self.rankers: list[Any] = []
        """Features that rank free text by their own means (Feature.rank)."""
        self.annotators: list[Any] = []
        self.momenters: list[Any] = []
        self.duplicators: list[Any] = []

    def use_features(self, vocabulary: Vocabulary, features: list[Any]) -> None:
        """The words to parse, and the features that answer them, rank and annotate."""
        self.vocabulary = vocabulary
        self.answerers = {f.name: f for f in features}
        self.rankers = [f for f in features if type(f).rank is not FEATURE_RANK]
        self.annotators = [f for f in features if type(f).annotate is not FEATURE_ANNOTATE]
        self.momenters = [f for f in features if type(f).moments is not FEATURE_MOMENTS]
        self.duplicators = [f for f in features
                            if type(f).duplicates is not FEATURE_DUPLICATES]

    def parse(self, raw: str) -> Query:
        return self.vocabulary.parse(raw)

    # ------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Load the catalog and the last index (no rebuild); safe to call from a thread."""
        self.catalog.load()
        self._started = True
        model = self.models.maybe_model()
        if model is not None:
            self._load_index(model.identity)

    def on_model_ready(self) -> None:
        """A model ready before the catalog is read leaves its index to start(): a query's
        text model, loading beside the catalog, gets on with the query meanwhile. The same
        model heard again (its readiness arrives while the first build runs) asks for no
        second build: at 100,000 photos that is ten seconds of a core."""
        model = self.models.maybe_model()
        if model is not None and self._started:
            self._load_index(model.identity)
        if model is None or model.identity != self._built_for:
            self.changed = True

    def _load_index(self, identity: str) -> None:
        """Once per model: the start and the model's readiness may both ask, from two
        threads (a command line's query loads its text model beside the catalog)."""
        with self._index_lock:
            if self._index_for == identity:
                return
            loaded = self.index.load(identity)
            log.info("index: %s", "loaded" if loaded else "none yet for this model")
            # What was embedded after that index was built is searched exactly until the next.
            position = self.index.current.position if self.index.current else {}
            live = self.catalog.columns().ids  # read by now (start): no pass over the store
            with self.store.snapshot() as reads:  # one transaction, not one a photo
                for content in [c for c in live if c not in position]:
                    vector = self.stored_vector(content, identity, reads)
                    if vector is not None:
                        self.index.add_fresh(content, vector)
            self._index_for = identity

    def on_content(self, born: list[bytes], died: list[bytes]) -> None:
        self.catalog.on_content(born, died)
        self.changed = True
        for content in died:
            self.index.discard(content)
        model = self.models.maybe_model()
        if model is None:
            return
        for content in born:  # moved back into the library: its vector is still stored
            vector = self.stored_vector(content, model.identity)
            if vector is not None:
                self.index.add_fresh(content, vector)

    def on_result(self, stage: str, content: bytes, output: dict[str, Any]) -> None:
        self.catalog.on_result(stage, content, output)
        if stage == self.embedding_stage:
            model = self.models.maybe_model()
            if model is not None and output.get("model") == model.identity:
                self.index.add_fresh(content, decode_embedding(output))
                self.changed = True

    def rebuild_if_needed(self, force: bool = False) -> bool:
        """The scheduler's job: rebuild when items came or went, at most every so often."""
        model = self.models.maybe_model()
        if model is None:
            return False
        due = time.monotonic() - self._last_build >= self.min_rebuild_interval_s
        if not force and not (self.changed and due):
            return False
        if not self._build_lock.acquire(blocking=False):
            return False
        try:
            self.index.building = True
            self.changed = False
            self._built_for = model.identity
            if self.embedding_stage is None:
                return False
            built = self.index.build_from_store(model.identity, self.store.path.parent,
                                                int(self.store.env.info()["map_size"]),
                                                self.embedding_stage)
            self._last_build = time.monotonic()
            log.info("index rebuilt: %d items in %.2fs", built.size, self.index.last_build_s or 0)
            return True
        except BuildFailed as exc:
            self.changed = True  # tried again at the next check
            log.warning("%s", exc)
            return False
        finally:
            self.index.building = False
            self._build_lock.release()

    # ---------------------------------------------------------------- vectors
    def text_vector(self, query: Query) -> NDArray[np.float32]:
        model = self.require_model()
        language = query.language or self.language
        try:  # the length is the model's answer's (a remote model may not know it yet)
            parts = [model.embed_text(query.text, language)] if query.text else []
            parts += [-NEGATIVE_WEIGHT * model.embed_text(term, language)
                      for term in query.negative]
        except (RemoteError, Stopped) as exc:  # no worker in time: one sentence, never a hang
            raise SearchUnavailable(f"semantic search is unavailable: {exc}") from None
        if not parts:
            raise SearchUnavailable("a query with words is needed to search by meaning")
        vector = np.sum(parts, axis=0).astype(np.float32)
        norm = float(np.linalg.norm(vector))
        out: NDArray[np.float32] = (vector / norm if norm > 0 else vector).astype(np.float32)
        return out

    def require_model(self) -> Any:
        model = self.models.maybe_model()
        if model is None:
            raise SearchUnavailable(f"semantic search is unavailable: {self.models.problem}")
        return model

    def stored_vector(self, content: bytes, identity: str, reads: Snapshot | None = None
                      ) -> NDArray[np.float32] | None:
        """The stored embedding of content, if the model `identity` made it."""
        if self.embedding_stage is None:
            return None
        output = (reads or self.store).get_result(content, self.embedding_stage)
        if output and output.get("model") == identity:
            return decode_embedding(output)
        return None

    def vector(self, content: bytes) -> NDArray[np.float32] | None:
        """The current model's embedding of content: from the index, else from the store.

        Vectors of another model are never returned, so nothing mixes two models."""
        model = self.models.maybe_model()
        if model is None:
            return None
        vector = self.index.vector_of(content)
        return vector if vector is not None else self.stored_vector(content, model.identity)

    def image_vector(self, content: bytes) -> NDArray[np.float32]:
        if content not in self.catalog:
            raise NoSuchImage(f"no image {content.hex()} in the library")
        self.require_model()
        vector = self.vector(content)
        if vector is None:
            raise SearchUnavailable("that image has no embedding yet")
        return vector

    def nearest(self, vector: NDArray[np.float32], k: int) -> list[Hit]:
        """The k best by cosine. A clip whose best scene beats it as a whole is lifted to
        that scene's score (Feature.moments); place_moments says where on the hits shown."""
        return [Hit(c, s) for c, s in self.nearest_scores(vector, k)]

    def nearest_scores(self, vector: NDArray[np.float32], k: int) -> list[tuple[bytes, float]]:
        """nearest() as (content, cosine) pairs: a text query takes 500, and a Hit each
        was a tenth of its time under load."""
        known = self.catalog.__contains__
        scores = {c: s for c, s in self.index.search(vector, k) if known(c)}
        for feature in self.momenters:
            for content, (score, _) in feature.moments(vector, k).items():
                if score > scores.get(content, -2.0) and known(content):
                    scores[content] = score
        return sorted(scores.items(), key=lambda pair: -pair[1])[:k]

    def place_moments(self, hits: list[Hit], vector: NDArray[np.float32]) -> None:
        """Each clip among `hits` says the second its best scene for `vector` starts."""
        for feature in self.momenters:
            found = feature.moments(vector, len(hits), [h.content for h in hits])
            for hit in hits:
                if hit.content in found:
                    hit.extra["at_s"] = found[hit.content][1]

    # ----------------------------------------------------------------- search
    def filter_rows(self, query: Query, columns: Columns) -> NDArray[np.bool_]:
        """The rows shown at all (read, described, not a RAW shown as its JPEG) that pass
        every filter, each answered by the feature that owns its word."""
        mask = ~columns.failed & columns.ready & ~columns.twin
        for f in query.filters:
            owner = self.answerers.get(self.vocabulary.field_owner.get(f.field, ""))
            if owner is None:  # a word whose feature is not running: nothing passes
                return np.zeros(len(columns.ids), dtype=bool)
            mask &= owner.match(f, columns)
        return mask

    def search(self, query: Query, page: int = 1, per_page: int = 50,
               seed: int | None = None) -> Page:
        columns = self.catalog.columns()
        if (page - 1) * per_page >= len(columns.ids):
            return Page(self.search(query, 1, 1, seed).total if columns.ids else 0, [])
        mask = self.filter_rows(query, columns)
        descending = query.order != "asc"
        scored: dict[bytes, float] | None = None
        fused: dict[bytes, float] | None = None
        notice = None
        vector: NDArray[np.float32] | None = None
        if query.text or query.negative or query.sort == "similar":
            scored, fused, vector, notice = self.by_meaning(query, columns, page * per_page)
            allowed = np.zeros(len(columns.ids), dtype=bool)
            for content in fused or scored:
                index = columns.position.get(content)
                if index is not None:
                    allowed[index] = True
            mask &= allowed
        order = self.order(query, columns, mask, fused or scored, descending, seed)
        start = (page - 1) * per_page
        hits = [Hit(columns.ids[i], scored.get(columns.ids[i]) if scored else None)
                for i in order[start : start + per_page]]
        for hit in hits:  # found by its words alone: its similarity, for the page only
            if hit.score is None and vector is not None and (
                    stored := self.vector(hit.content)) is not None:
                hit.score = float(stored @ vector)
        if vector is not None:
            self.place_moments(hits, vector)
        for feature in self.annotators:
            feature.annotate(hits, query)
        years = years_in_order(columns.taken[order]) if query.sort == "date" else None
        if query.sort == "similarity" and not self.similarity.count():
            notice = needs_model("Ordering by similarity") + " Shown newest first instead."
        elif query.sort == "similarity" and not self.similarity.ready():
            notice = (f"The similarity order of {self.similarity.count():,} photos is being "
                      "worked out; shown newest first until it is.")
        later = bool(notice) and query.sort == "similarity" and bool(self.similarity.count())
        strong = None
        if query.text and query.sort != "similar" and scored and vector is not None:
            strong = strong_matches(self.index.sample(BACKGROUND), vector,
                                    [columns.ids[i] for i in order], scored)
        return Page(len(order), hits, years, notice, strong, later)

    def by_meaning(self, query: Query, columns: Columns, shown: int) -> tuple[
            dict[bytes, float], dict[bytes, float] | None, NDArray[np.float32] | None,
            str | None]:
        """Cosine similarities of the best matches, their fusion with the photos whose words
        match (search/text_search.py), the query's vector and a notice. With no model,
        a query whose words match finds by the words alone, and says so."""
        limit = min(max(self.text_limit, shown), len(columns.ids))
        said = [ranking for feature in self.rankers if query.sort != "similar" and query.text
                if (ranking := feature.rank(query.text, columns, limit))]
        try:
            scored, vector = self.scored(query, limit, [c for r in said for c in r])
        except SearchUnavailable as exc:
            if not said:
                raise
            return {}, fuse(*said), None, (f"{str(exc).rstrip('.')}. Found by the words in "
                                           "the photos only.")
        if query.has("score"):
            said = [kept for ranking in said if (kept := [c for c in ranking if c in scored])]
        if not said:
            return scored, None, vector, None
        return scored, fuse(sorted(scored, key=lambda c: -scored[c]), *said), vector, None

    def scored(self, query: Query, limit: int, said: list[bytes]) -> tuple[
            dict[bytes, float], NDArray[np.float32]]:
        """Cosine similarity to the query (or to similar:ID) of its best matches that pass
        every score filter, and the query's vector. With a score filter, the photos `said`
        it in words are measured too (else only those shown are, later)."""
        if query.sort == "similar":
            assert query.similar_to is not None
            vector = self.image_vector(bytes.fromhex(query.similar_to))
        else:
            vector = self.text_vector(query)
        pairs = self.nearest_scores(vector, limit + 1)
        if query.sort == "similar":
            itself = bytes.fromhex(query.similar_to or "")
            pairs = [pair for pair in pairs if pair[0] != itself]
        cosine = {content: float(score) for content, score in pairs}
        filters = [f for f in query.filters if f.field == "score"]
        for content in said if filters else ():
            if content not in cosine and (stored := self.vector(content)) is not None:
                cosine[content] = float(stored @ vector)
        return {c: s for c, s in cosine.items() if all(f.accepts_score(s) for f in filters)
                }, vector

    def order(self, query: Query, columns: Columns, mask: NDArray[np.bool_],
              scored: dict[bytes, float] | None, descending: bool,
              seed: int | None) -> NDArray[np.intp]:
        idx = np.flatnonzero(mask)
        mode = query.sort if query.sort != "similar" else None
        tiebreak = columns.id_array[idx]
        if mode is None and scored is not None:
            key = np.asarray([scored[columns.ids[i]] for i in idx])
            return idx[self._lexsort(key, tiebreak, descending)]
        if mode is None or (mode == "similarity" and not (
                self.similarity.count() and self.similarity.ready())):
            mode = "date"  # no order asked for (or none yet): newest first, as people expect
        if mode == "random":
            salt = str(query.seed if query.seed is not None else (seed or 0)).encode()
            keys = np.asarray([hashlib.blake2b(columns.ids[i], key=salt[:64],
                                               digest_size=8).digest() for i in idx], dtype="S8")
            order = np.argsort(keys, kind="stable")
            return idx[order[::-1] if not descending else order]
        if mode == "similarity":
            return self.similarity.positions(columns, idx, descending)
        owner = self.answerers.get(self.vocabulary.owner_of_sort(mode) or "")
        if owner is None:  # its feature is not running: newest first
            owner, mode = self.answerers["library"], "date"
        ordered: NDArray[np.intp] = owner.order(mode, columns, idx, descending)
        return ordered

    @staticmethod
    def _lexsort(key: NDArray[Any], tiebreak: NDArray[Any], descending: bool) -> NDArray[np.intp]:
        return np.lexsort((tiebreak, -key if descending else key))

    # ------------------------------------------------------------- duplicates
    def duplicate_groups(self, threshold: float = DEFAULT_DUPLICATE_THRESHOLD,
                         neighbours: int = 10) -> list[list[bytes]]:
        """Sets of contents: near-duplicates (cosine >= threshold, joined transitively) and,
        as single-content groups, exact copies (one content at several paths)."""
        pairs = self.index.close_pairs(threshold, neighbours)
        for feature in self.duplicators:  # a trimmed clip, by its scenes
            pairs += feature.duplicates(threshold)
        return joined_groups([c for c in self.similarity_keys() if c in self.catalog], pairs,
                             [c for c in self.store.contents_with_copies() if c in self.catalog])

    def refresh_pairs(self) -> dict[bytes, bytes]:
        """Find RAW+JPEG pairs and Live Photos again if their files changed (PairWatch)
        and tell the catalog, which shows each pair as its still; returns RAW or motion
        content -> the still's. A scheduled job, and the first step of every grouping."""
        return self.pair_watch.refresh()

    def similarity_keys(self) -> list[bytes]:
        current = self.index.current
        return ([bytes(i) for i in current.ids] if current else []) + list(self.index.fresh)

    def status(self) -> dict[str, Any]:
        return {**self.index.status(), "catalog": len(self.catalog)}
