"""The colour feature: `color:red` (a photo one of whose dominant colours has that name)
and `color:#2a6fdb` (one near that colour), GET /api/colors (the library's colours, with
how many photos each), and the panel's swatches. It uses only what docs/features.md
documents: the Feature contract, the context the core hands it, and the hub."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
from aiohttp import web
from numpy.typing import NDArray

from anagnorisisd.events import ContentChanged, Hub, StageResult
from anagnorisisd.feature import Feature, FeatureContext, Route, Word
from anagnorisisd.search.query import Query, Token
from anagnorisisd.search.set_filters import rows_of
from anagnorisisd_colour.names import NAMES, NEAR, distance, parse_hex

Swatch = tuple[str, tuple[int, int, int], float]


def parse_colour(query: Query, token: Token) -> None:
    value = token.value.strip().lower()
    no = "!" if token.negated else ""  # -color:red: the photos without it
    if value in NAMES:
        query.add("color", no + "=", value)
    elif parse_hex(value) is not None:
        query.add("color", no + "~", value.lstrip("#"))
    else:
        raise token.error(f"color: takes a name ({', '.join(NAMES)}) or #RRGGBB")


class ColourFeature(Feature):
    name: ClassVar[str] = "colour"
    stages: ClassVar[tuple[str, ...]] = ("colour",)
    panel: ClassVar[str | None] = "panel.js"

    def __init__(self, context: FeatureContext) -> None:
        super().__init__(context)
        self.colours: dict[bytes, list[Swatch]] = {}
        self._lock = threading.Lock()

    @classmethod
    def words(cls) -> Iterable[Word]:
        return [Word("color", "key", "a dominant colour, by name or as #RRGGBB: color:red, "
                     "color:#2a6fdb", parse_colour, negatable=True)]

    # -------------------------------------------------------------- lifecycle
    def subscribe(self, hub: Hub) -> None:
        hub.subscribe(StageResult, lambda e: self._put(e.content, e.output)
                      if e.stage == "colour" else None, "colour: a photo's colours")
        hub.subscribe(ContentChanged, lambda e: self._forget(e.died), "colour: photos gone")

    def load(self) -> None:
        store = self.context.store
        for content in store.live_hashes():
            output = store.get_result(content, "colour")
            if output is not None:
                self._put(content, output)

    def _put(self, content: bytes, output: dict[str, Any]) -> None:
        swatches = []
        for c in output.get("colours") or []:
            rgb = parse_hex(str(c.get("hex", "")))
            if rgb is not None:
                swatches.append((str(c.get("name")), rgb, float(c.get("share", 0))))
        with self._lock:
            self.colours[content] = swatches

    def _forget(self, contents: list[bytes]) -> None:
        with self._lock:
            for content in contents:
                self.colours.pop(content, None)

    def status(self) -> dict[str, Any]:
        running = self.context.stages.get("colour") is not None
        with self._lock:
            return {"colour": {"photos": len(self.colours), "stage_running": running}}

    # ---------------------------------------------------------------- search
    def match(self, filter_: Any, columns: Any) -> NDArray[np.bool_]:
        with self._lock:
            items = list(self.colours.items())
        if filter_.op.endswith("~"):
            wanted = parse_hex(str(filter_.value)) or (0, 0, 0)
            found = {c for c, swatches in items
                     if any(distance(rgb, wanted) <= NEAR for _, rgb, _ in swatches)}
        else:
            found = {c for c, swatches in items
                     if any(name == filter_.value for name, _, _ in swatches)}
        passing = rows_of(found, columns)
        return ~passing if filter_.op.startswith("!") else passing

    # ---------------------------------------------------------------- routes
    def counts(self) -> list[dict[str, Any]]:
        """Every named colour with how many photos hold it among their dominant ones."""
        catalog = self.context.catalog
        with self._lock:
            held = Counter(name for c, swatches in self.colours.items() if c in catalog
                           for name in {n for n, _, _ in swatches})
        return [{"name": name, "count": held[name]} for name in NAMES if held[name]]

    def routes(self) -> Iterable[Route]:
        async def colors(request: web.Request) -> web.Response:
            return web.json_response({"colors": self.counts()})

        return [Route("GET", "/api/colors", colors, {
            "summary": "The library's colours, each with how many photos have it among "
                       "their dominant colours (the colour feature)",
            "responses": {"200": {"description": "colours", "content": {"application/json": {
                "schema": {"type": "object", "required": ["colors"], "properties": {
                    "colors": {"type": "array", "items": {
                        "type": "object", "required": ["name", "count"],
                        "properties": {"name": {"type": "string"},
                                       "count": {"type": "integer"}}}}}}}}}}})]
