"""docs/features.md and the Feature contract agree: every hook, every field of Word, Route
and FeatureContext, and every built-in feature with its words and routes is documented;
and docs/query.md names every word the installed features register."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

from anagnorisisd.app.features import available, builtin_vocabulary, feature_classes
from anagnorisisd.feature import Feature, FeatureContext, Route, Word

REPO = Path(__file__).resolve().parent.parent
DOC = (REPO / "docs" / "features.md").read_text()
QUERY_DOC = (REPO / "docs" / "query.md").read_text()


def public(cls: type) -> set[str]:
    return {n for n, _ in inspect.getmembers(cls) if not n.startswith("_")} | (
        {"__init__"} if cls is Feature else set())


def test_every_hook_of_a_feature_is_documented() -> None:
    hooks = public(Feature) - {"context"}
    assert {"words", "match", "order", "routes", "subscribe", "load", "start", "stop",
            "status", "rank", "annotate", "ask", "describe", "__init__"} <= hooks
    for name in hooks:
        assert f"`{name}" in DOC, f"docs/features.md does not document Feature.{name}"


def test_every_field_of_a_word_a_route_and_the_context_is_documented() -> None:
    for cls in (Word, Route, FeatureContext):
        for field in dataclasses.fields(cls):
            assert f"`{field.name}" in DOC, f"docs/features.md lacks {cls.__name__}.{field.name}"


def test_every_built_in_feature_and_its_words_are_documented() -> None:
    names = {cls.name for cls in feature_classes()}
    assert {"library", "people", "text", "concepts", "ratings", "culling", "places",
            "sidecars"} <= names
    assert set(available()) >= names - {"library"}
    for name in names:
        assert f"| `{name}`" in DOC, f"docs/features.md does not list the feature {name}"
    for word in builtin_vocabulary().listing():
        shown = word["word"].rstrip(">=") if word["kind"] == "compare" else word["word"]
        assert f"`{shown}" in QUERY_DOC, f"docs/query.md does not name {word['word']}"
