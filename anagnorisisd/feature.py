"""The Feature contract: what a unit of the daemon (people, text, concepts, a third party's
colour search) declares, one level above a stage.

A feature is a class registered under the ``anagnorisisd.features`` entry-point group,
exactly as a stage is under ``anagnorisisd.stages``; the built-in ones register the same
way. The daemon instantiates each with a ``FeatureContext`` and then asks it, once, for
its query words, its routes and its event subscriptions, and drives its lifecycle:
``load`` (before the server answers, and for a search run without a daemon), ``start``
(threads and scheduled jobs, `serve` and `index` only), ``stop`` (joins all of them) and
``status`` (its part of /api/status). A feature never imports another feature: where two
must talk they do it through the catalog's columns, the store or the hub. Every public
member below is documented in docs/features.md (a test keeps the two in step).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from anagnorisisd.config import Setting

if TYPE_CHECKING:
    import numpy as np
    from aiohttp import web
    from numpy.typing import NDArray

    from anagnorisisd.config import Config
    from anagnorisisd.events import Hub

__all__ = ["Feature", "FeatureContext", "Route", "Setting", "Word"]

Handler = Callable[["web.Request"], Awaitable["web.StreamResponse"]]


@dataclass(frozen=True)
class Word:
    """One word of the query language: how it is typed and parsed. Which photos its filters
    pass, and how its sort orders them, is its feature's (``Feature.match``,
    ``Feature.order``), so a query parses with no feature loaded (the vocabulary is made
    from the classes alone).

    ``kind`` says how it is typed: ``"key"`` as ``NAME:VALUE`` (``person:"Ana"``); a key
    whose value is fixed is registered whole (``name="has:text"``, ``kind="exact"``);
    ``"compare"`` as ``NAME OP VALUE`` (``faces>=2``, OP one of ``>= <= > < = !=``);
    ``"sort"`` as a bare word that orders the results (``person``).
    """

    name: str
    kind: str
    help: str
    """One line: what it finds, with an example; GET /api/vocabulary and the panel show
    it."""
    parse: Callable[[Any, Any], None] | None = None
    """``parse(query, token)``: add what the word means to the query (``query.add(field,
    op, value)`` for a filter, or a sort, a seed, a language); raise ``token.error(...)``
    for a bad value. ``token`` has ``raw``, ``value``, ``op``, ``negated`` and
    ``position``. A sort word needs none."""
    fields: tuple[str, ...] = ()
    """The filter fields its parser adds (default: its own name): the feature answers
    those filters (``Feature.match``)."""
    negatable: bool = False
    """Whether ``-NAME:VALUE`` means "without" (``-tag:Rex``); else it is refused."""

    @property
    def made(self) -> tuple[str, ...]:
        return self.fields or (self.name,)


@dataclass(frozen=True)
class Route:
    """One HTTP route of a feature, and its part of the OpenAPI document."""

    method: str
    path: str
    handler: Handler
    spec: dict[str, Any] = field(default_factory=dict)
    """The OpenAPI operation object (summary, parameters, requestBody, responses)."""


@dataclass
class FeatureContext:
    """What the core offers a feature; nothing here belongs to another feature.

    ``store`` (its own user-data keys and settings), ``catalog`` (the shared columns and
    tags), ``search`` (vectors, the model, the index), ``hub`` (events), ``models`` (the
    CLIP model slot), ``stages`` (the assembled stages, to find one by what it provides),
    ``config`` (the whole configuration) and ``section`` (its own validated
    ``[features.NAME]``), ``roots`` (the library folders now), ``data_dir`` (a folder of
    its own under the daemon's data directory), ``schedule`` (run a job every so many
    seconds while the daemon runs) and ``role`` ("serve", "index", "search" or "status").
    """

    config: Config
    store: Any
    catalog: Any
    search: Any
    hub: Hub
    models: Any
    stages: Any
    section: dict[str, Any]
    roots: Callable[[], list[str]]
    data_dir: Any
    schedule: Callable[[Callable[[], object], float, str], None]
    role: str = "serve"
    files_of: Callable[[bytes], list[str]] = lambda _content: []
    """Every file that is this photo (a RAW+JPEG pair's RAW included)."""


class Feature:
    """Base class for features. Subclass it and set the class attributes."""

    name: ClassVar[str] = ""
    """Unique; also the name of its config section ``[features.NAME]`` and of its part of
    /api/status (``features.NAME``)."""

    stages: ClassVar[tuple[str, ...]] = ()
    """The stages whose outputs it reads (by name); status says when one is not running."""

    config_schema: ClassVar[dict[str, Setting]] = {}
    """The keys of ``[features.NAME]``, as a stage's: unknown keys and bad values are
    one-line config errors; ``enabled`` is always accepted."""

    panel: ClassVar[str | None] = None
    """A file of the feature's package holding an ES module the panel imports by name
    (served at ``/features/NAME/FILE``); it exports ``register(panel)``."""

    pages: ClassVar[tuple[str, ...]] = ()
    """The pages its panel module adds (``addPage(NAME, …)``): ``/NAME`` serves the
    panel, which shows that page."""

    assets: ClassVar[tuple[str, ...]] = ()
    """Other files of its package its panel module loads (a map library, its data), by
    path within the package: served at ``/features/NAME/PATH``, these and nothing else."""

    def __init__(self, context: FeatureContext) -> None:
        """Receive the core's context. Open nothing slow here: ``load`` does that."""
        self.context = context

    @classmethod
    def words(cls) -> Iterable[Word]:
        """Its query words; two features may not own one word (the second is refused)."""
        return ()

    def match(self, filter_: Any, columns: Any) -> NDArray[np.bool_]:
        """The catalog rows a filter of one of its words passes, as a boolean array over
        ``columns.ids`` (``search.set_filters.rows_of`` turns a set of photos into one)."""
        raise NotImplementedError(f"feature {self.name} answers no filter")

    def order(self, mode: str, columns: Any, rows: NDArray[np.intp],
              descending: bool) -> NDArray[np.intp]:
        """``rows`` (catalog rows) in the order of one of its sort words."""
        raise NotImplementedError(f"feature {self.name} has no sort {mode}")

    def routes(self) -> Iterable[Route]:
        """Its HTTP routes, each with its OpenAPI operation."""
        return ()

    def subscribe(self, hub: Hub) -> None:
        """Subscribe to the events it hears (``hub.subscribe(Event, listener, name)``);
        every listener is guarded by the hub."""

    def load(self) -> None:
        """Read what it keeps from the store, before the server answers and before an
        offline search runs: after this, its words answer as they do in the daemon."""

    def start(self) -> None:
        """Start its threads and jobs (``context.schedule``); the daemon and ``index``."""

    def stop(self) -> None:
        """Stop and join every thread ``start`` began; called once, at shutdown."""

    def status(self) -> dict[str, Any]:
        """Its part of /api/status (``features.NAME``)."""
        return {}

    def rank(self, text: str, columns: Any, limit: int) -> list[bytes] | None:
        """For free text: the photos it finds by its own means (the words read in them),
        best first, fused with the ranking by meaning; None when it has nothing to say."""
        return None

    def moments(self, vector: NDArray[np.float32], limit: int,
                among: list[bytes] | None = None) -> dict[bytes, tuple[float, float]]:
        """For a search by meaning (words, or similar:ID): items it scores by their parts (a
        video by its scenes), each with its best cosine to `vector` and the moment, in
        seconds, that scored it; the `limit` best, or exactly those `among` (the hits
        shown, which then carry the moment as ``at_s``). A part that scores higher than
        the whole lifts the item to that score."""
        return {}

    def duplicates(self, threshold: float) -> list[tuple[bytes, bytes]]:
        """Pairs of items it knows to be near-duplicates by its own means, beyond the
        cosine of their whole vectors (a clip trimmed from another: each of its scenes is
        one of the other's at `threshold`); joined with the others into duplicate groups."""
        return []

    def annotate(self, hits: list[Any], query: Any) -> None:
        """Add what it knows to the hits shown (``hit.extra[...]``: the lines of text a
        result was found by)."""

    def ask(self, count: int) -> list[tuple[bytes, str]]:
        """Up to `count` photos whose rating would settle something, each with why (what
        GET /api/rate-next asks about): a close call between two shots, a photo the
        evaluator is least sure of."""
        return []

    def describe(self, content: bytes) -> dict[str, Any]:
        """Its fields in one photo's description (GET /api/images/{id} and listings)."""
        return {}


log = logging.getLogger(__name__)


def read_modules(*names: str) -> None:
    """Import heavy modules ahead of their first use (a feature's start, on a thread), so
    that a request never waits for them and a command that never uses them never reads
    them."""
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError:
            log.warning("%s could not be imported; the feature that needs it will say so", name)
