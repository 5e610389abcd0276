"""Finding features and loading them, as the stage registry does for stages: the one place
that knows there are features, so the composition root is a loop over them.

Features are found through the ``anagnorisisd.features`` entry-point group (the built-in
ones too) and taken in the order of ``[features] order``-free discovery: by name, the
core ("library") first. A feature that fails to import, to start, or claims a word or a
status key another one owns costs itself and nothing else: it is reported in status
(``features.problems``) and the daemon runs without it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from anagnorisisd.config import Config, ConfigError, validate_stage_section
from anagnorisisd.feature import Feature, FeatureContext, Route
from anagnorisisd.search.core_words import LibraryFeature, score_has_a_reference
from anagnorisisd.search.vocabulary import Vocabulary, VocabularyError
from anagnorisisd.store.errors import is_disk_full

ENTRY_POINT_GROUP = "anagnorisisd.features"
log = logging.getLogger(__name__)
_REGISTERED: dict[str, EntryPoint] = {}


def register_feature(name: str, value: str) -> None:
    """Make a feature available in this process without an installed distribution,
    exactly as its entry point would ("module:Class")."""
    _REGISTERED[name] = EntryPoint(name=name, value=value, group=ENTRY_POINT_GROUP)


def available() -> dict[str, EntryPoint]:
    return {**{ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}, **_REGISTERED}


def feature_classes(config: Config | None = None,
                    problems: dict[str, str] | None = None) -> list[type[Feature]]:
    """The feature classes to run, the core first, then by name; those turned off in
    `[features.NAME] enabled = false` left out, and those that cannot be imported said."""
    classes: list[type[Feature]] = [LibraryFeature]
    for name, entry in sorted(available().items()):
        section = config.feature_section(name) if config is not None else {}
        if section.get("enabled", True) is False:
            continue
        try:
            cls = entry.load()
        except Exception as exc:  # a plugin's import error must not stop the daemon
            if problems is not None:
                problems[name] = f"failed to load: {type(exc).__name__}: {exc}"
            log.error("feature %s failed to load: %s", name, exc)
            continue
        if not (isinstance(cls, type) and issubclass(cls, Feature)) or cls.name != name:
            if problems is not None:
                problems[name] = f"its entry point is not a Feature named '{name}'"
            continue
        classes.append(cls)
    return classes


def vocabulary_of(classes: Iterable[type[Feature]],
                  problems: dict[str, str] | None = None) -> tuple[Vocabulary, list[str]]:
    """The words of these features (a feature whose words clash is left out, said), and the
    names of the features whose words are in."""
    vocabulary = Vocabulary()
    vocabulary.finishers.append(score_has_a_reference)
    kept: list[str] = []
    for cls in classes:
        try:
            vocabulary.add_all(cls.name, list(cls.words()))
        except (VocabularyError, Exception) as exc:
            if problems is not None:
                problems[cls.name] = str(exc)
            log.error("feature %s: %s", cls.name, exc)
            continue
        kept.append(cls.name)
    return vocabulary, kept


def builtin_vocabulary() -> Vocabulary:
    """The words of every installed feature, from their classes alone: how a query is
    checked where no library is open (tests, the panel's help)."""
    return vocabulary_of(feature_classes())[0]


class Features:
    """The loaded features of one library, and their lifecycle."""

    def __init__(self, config: Config, make_context: Callable[[str, dict[str, Any]],
                                                              FeatureContext]) -> None:
        self.problems: dict[str, str] = {}
        classes = feature_classes(config, self.problems)
        self.vocabulary, kept = vocabulary_of(classes, self.problems)
        self.items: list[Feature] = []
        for cls in classes:
            if cls.name not in kept:
                continue
            try:
                section = validate_stage_section(cls.name, config.feature_section(cls.name),
                                                 dict(cls.config_schema), config.source,
                                                 table="features")
                feature = cls(make_context(cls.name, section))
            except ConfigError:
                raise
            except Exception as exc:
                self.problems[cls.name] = f"failed to start: {type(exc).__name__}: {exc}"
                if is_disk_full(exc):  # the library already says the disk is full: one line
                    log.error("feature %s cannot start: the disk is full (%s)", cls.name, exc)
                else:
                    log.exception("feature %s failed to start", cls.name)
                continue
            self.items.append(feature)
        self._started: list[Feature] = []

    def get(self, name: str) -> Feature | None:
        return next((f for f in self.items if f.name == name), None)

    def _each(self, what: str, call: Callable[[Feature], object],
              features: Iterable[Feature] | None = None) -> None:
        for feature in list(features if features is not None else self.items):
            try:
                call(feature)
            except Exception as exc:  # one feature's failure is its own
                self.problems[feature.name] = f"{what} failed: {type(exc).__name__}: {exc}"
                log.exception("feature %s: %s failed", feature.name, what)

    def subscribe(self, hub: Any) -> None:
        self._each("subscribe", lambda f: f.subscribe(hub))

    def load(self) -> None:
        self._each("load", lambda f: f.load())

    def start(self) -> None:
        self._each("start", lambda f: f.start())
        self._started = list(self.items)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every started feature, the last started first; each joins its threads."""
        deadline = time.monotonic() + timeout
        for feature in reversed(self._started):
            if time.monotonic() > deadline:
                log.warning("feature %s not stopped: out of time", feature.name)
                continue
            self._each("stop", lambda f: f.stop(), [feature])
        self._started = []

    def routes(self) -> list[tuple[str, Route]]:
        out: list[tuple[str, Route]] = []
        for feature in self.items:
            try:
                out.extend((feature.name, route) for route in feature.routes())
            except Exception as exc:
                self.problems[feature.name] = f"routes failed: {type(exc).__name__}: {exc}"
                log.exception("feature %s: routes failed", feature.name)
        return out

    def status(self, taken: Iterable[str]) -> dict[str, Any]:
        """Every feature's part of /api/status, each key once (a key the core or an
        earlier feature has is refused, and said)."""
        out: dict[str, Any] = {}
        used = set(taken)
        for feature in self.items:
            try:
                part = feature.status()
            except Exception as exc:  # a feature's status hook must not break status
                out.setdefault("feature_errors", {})[feature.name] = f"{type(exc).__name__}: {exc}"
                continue
            for key, value in part.items():
                if key in used:
                    out.setdefault("feature_errors", {})[feature.name] = (
                        f"status key '{key}' is already used")
                    continue
                used.add(key)
                out[key] = value
        return out

    def asks(self, count: int, besides: str = "") -> list[tuple[bytes, str]]:
        """What every feature but `besides` would ask the person to rate, in order."""
        out: list[tuple[bytes, str]] = []
        for feature in self.items:
            if feature.name == besides:
                continue
            try:
                out += [(c, why) for c, why in feature.ask(count) if c not in dict(out)]
            except Exception:
                log.exception("feature %s: ask failed", feature.name)
        return out[:count]

    def describe(self, content: bytes) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for feature in self.items:
            try:
                out.update(feature.describe(content))
            except Exception:
                log.exception("feature %s: describe failed", feature.name)
        return out

    def summary(self) -> dict[str, Any]:
        return {"loaded": [f.name for f in self.items], "problems": dict(self.problems),
                "panels": {f.name: f.panel for f in self.items if f.panel}}


def joined(threads: Iterable[threading.Thread | None], timeout: float) -> list[str]:
    """Join threads within `timeout` in all; the names of those still running."""
    deadline = time.monotonic() + timeout
    left = []
    for thread in threads:
        if thread is None:
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            left.append(thread.name)
    return left
