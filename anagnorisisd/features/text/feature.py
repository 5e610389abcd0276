"""The text feature: the words read in the photos (the text stage's output) in a
full-text index (words.py), the query words `text:"wifi password"` and `has:text`, free
text fused with meaning (Feature.rank), the lines a result was found by (Feature.annotate),
and GET /api/images/{id}/text."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.events import Hub, StageResult
from anagnorisisd.feature import Feature, FeatureContext, Route, Word
from anagnorisisd.features.text.words import WordIndex, phrase_query, stored_text
from anagnorisisd.http.schemas import ID, NULLABLE_INT, errors, json_response
from anagnorisisd.search.query import Query, Token

TEXT: dict[str, Any] = {
    "type": "object", "required": ["state", "lines"],
    "properties": {
        "state": {"type": "string", "enum": ["read", "pending", "failed"]},
        "error": {"type": "string", "nullable": True},
        "width": NULLABLE_INT, "height": NULLABLE_INT,
        "read_at": {"type": "array", "nullable": True, "items": {"type": "integer"}},
        "model": {"type": "string", "nullable": True},
        "lines": {"type": "array", "items": {
            "type": "object", "required": ["text", "box", "score"],
            "properties": {"text": {"type": "string"},
                           "box": {"type": "array", "items": {"type": "number"},
                                   "minItems": 4, "maxItems": 4},
                           "quad": {"type": "array", "nullable": True,
                                    "items": {"type": "number"}},
                           "score": {"type": "number"},
                           "at_s": {"type": "number", "nullable": True,
                                    "description": "in a video: the second of the scene "
                                                   "it was read in"}}}}}}


PATHS: dict[str, Any] = {
    "/api/images/{id}/text": {"get": {
        "summary": "The lines of text read in the photo (OCR), with their boxes in pixels "
                   "of the upright photo at full size", "parameters": [ID],
        "responses": {"200": json_response(TEXT, "its lines; state says whether it has "
                                           "been read yet"), **errors(404)}}},
}


def parse_text(query: Query, token: Token) -> None:
    phrase = token.value.strip()
    if not any(c.isalnum() for c in phrase):
        raise token.error('text: needs words, like text:"wifi password"')
    query.add("text", "~", phrase)


def parse_has_text(query: Query, token: Token) -> None:
    query.add("has_text", "!=" if token.negated else "=", 1.0)


class TextFeature(Feature):
    name: ClassVar[str] = "text"
    stages: ClassVar[tuple[str, ...]] = ("text",)

    def __init__(self, context: FeatureContext) -> None:
        super().__init__(context)
        self.stage = context.stages.provider("text")
        self.words_index = (WordIndex(context.config.data_dir / "index" / "words.sqlite")
                            if self.stage is not None else None)
        self._sync: threading.Thread | None = None

    @classmethod
    def words(cls) -> Iterable[Word]:
        return [Word("text", "key", 'words read in the photo, in that order, any case and '
                     'accents: text:"wifi password"', parse_text),
                Word("has:text", "exact", "with text read in it (-has:text: without)",
                     parse_has_text, ("has_text",), negatable=True)]

    def subscribe(self, hub: Hub) -> None:
        index, stage = self.words_index, self.stage
        if index is not None:
            hub.subscribe(StageResult, lambda e: index.put(e.content, e.output)
                          if e.stage == stage else None, "text: a photo's words")

    def load(self) -> None:
        """Where nothing else runs (a search with no daemon, `index`), the word index agrees
        with the store before the first query; the daemon does it on a thread (start)."""
        if self.context.role != "serve":
            self._synced()

    def start(self) -> None:
        if self.context.role == "serve" and self.words_index is not None:
            self._sync = threading.Thread(target=self._synced, name="words-sync", daemon=True)
            self._sync.start()

    def _synced(self) -> None:
        if self.words_index is not None and self.stage is not None:
            self.words_index.sync(stored_text(self.context.store, self.stage))

    def stop(self) -> None:
        if self._sync is not None:
            self._sync.join(10.0)
        if self.words_index is not None:
            self.words_index.close()

    def status(self) -> dict[str, Any]:
        return {"words": self.words_index.status()} if self.words_index else {}

    # ----------------------------------------------------------------- search
    def match(self, filter_: Any, columns: Any) -> NDArray[np.bool_]:
        passing = np.zeros(len(columns.ids), dtype=bool)
        index = self.words_index
        if index is None:
            return passing
        rows, with_text = index.rows_in(columns)
        if filter_.field == "has_text":
            passing[with_text] = True
            return passing if filter_.op == "=" else ~passing
        if (match := phrase_query(str(filter_.value))) is not None:
            docs = index.matching(match)
            found = rows[docs[docs < len(rows)]]
            passing[found[found >= 0]] = True
        return passing

    def rank(self, text: str, columns: Any, limit: int) -> list[bytes] | None:
        """The `limit` best photos whose words match free text, best first by BM25: as many
        as the vector index is asked for, so that neither list outweighs the other."""
        if self.words_index is None or not text:
            return None
        return [c for c in self.words_index.ranked(text, limit) if c in columns.position]

    def annotate(self, hits: list[Any], query: Any) -> None:
        """Each hit's lines that hold the words it was asked for (`matched_text`)."""
        terms = " ".join([str(f.value) for f in query.filters if f.field == "text"] +
                         ([query.text] if query.text else []))
        if self.words_index is None or not terms:
            return
        found = self.words_index.matched_lines([h.content for h in hits], terms)
        for hit in hits:
            if hit.content in found:
                hit.extra["matched_text"] = found[hit.content]
                at = self.said_at(hit.content, found[hit.content][0])
                if at is not None:  # the words are said there: that is the moment
                    hit.extra["at_s"] = at

    def said_at(self, content: bytes, line: str) -> float | None:
        """The second of a video's scene a line was read in (None for a photo's)."""
        output = self.context.store.get_result(content, self.stage) if self.stage else None
        for read in (output or {}).get("lines") or []:
            if isinstance(read, dict) and read.get("text") == line:
                at = read.get("at_s")
                return float(at) if isinstance(at, int | float) else None
        return None

    # ----------------------------------------------------------------- routes
    def lines(self, content: bytes) -> dict[str, Any]:
        """GET /api/images/{id}/text: every line read, or why there are none."""
        store, stage = self.context.store, self.stage
        if stage is None:
            return {}
        mark = store.get_mark(content, stage)
        output = store.get_result(content, stage) or {}
        state = "failed" if mark and mark.error else "read" if output else "pending"
        return {"state": state, "error": mark.error if mark else None,
                "width": output.get("width"), "height": output.get("height"),
                "read_at": output.get("read_at"), "model": output.get("model"),
                "lines": [{"text": line["text"], "box": line["box"], "score": line["score"],
                           "quad": line.get("quad"), "at_s": line.get("at_s")}
                          for line in output.get("lines") or []]}

    def routes(self) -> Iterable[Route]:
        from aiohttp import web  # the web server's, read by serve only

        from anagnorisisd.http.common import image_id, run_blocking

        async def get_text(request: web.Request) -> web.Response:
            """The lines of text read in the photo, boxes in pixels of the upright photo at
            full size; `state` says whether it has been read yet."""
            content = image_id(request)
            return web.json_response(await run_blocking(self.lines, content))

        if self.stage is None:  # [stages.text] is off: the route says so by its absence
            return []
        path = "/api/images/{id}/text"
        return [Route("GET", path, get_text, PATHS[path]["get"])]
