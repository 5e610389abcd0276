"""Concepts and tags over HTTP: make a concept, answer about photos, train, ask next.

Answers are written to the store before they are acknowledged, on the bounded HTTP
pool; training after answers runs on the concepts' own thread, and POST …/train (the
one request that waits for it) runs on the pool, never on the event loop.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from anagnorisisd.app.library import Library
from anagnorisisd.feature import Route
from anagnorisisd.features.concepts.service import ConceptError, NoSuchConcept
from anagnorisisd.http.common import (
    LIBRARY_KEY,
    feature_of,
    handle_errors,
    int_param,
    library_ids,
    run_blocking,
    run_writing,
)
from anagnorisisd.http.errors import BadRequest, Conflict, NotFound, read_json
from anagnorisisd.http.schemas import IDS, NULLABLE_NUM, OBJECT, errors, json_body, json_response
from anagnorisisd.strings import MAX_NAME, name_pattern

MAX_IMAGES = 10_000
CONCEPT_NAME = {"type": "string", "minLength": 1, "maxLength": MAX_NAME,
                "pattern": name_pattern("|/")}
CONCEPT_ID = {"name": "id", "in": "path", "required": True,
              "schema": {"type": "string", "pattern": "^[0-9a-f]{12}$"}}
CONCEPT = {"type": "object", "required": ["id", "name", "examples", "precision", "recall",
                                          "threshold", "suggestions"], "properties": {
    "id": {"type": "string"}, "name": {"type": "string"}, "examples": {"type": "integer"},
    "precision": NULLABLE_NUM, "recall": NULLABLE_NUM, "threshold": {"type": "number"},
    "suggestions": IDS, "verdict": {"type": "string"}, "state": {"type": "string"}}}
CONCEPT_PATHS: dict[str, Any] = {
    "/api/concepts": {
        "get": {"summary": "Every concept with its numbers (suggestions counted)",
                "responses": {"200": json_response(OBJECT, "concepts")}},
        "post": {"summary": "A new concept, to teach with answers",
                 "requestBody": json_body({"type": "object", "required": ["name"],
                                           "properties": {"name": CONCEPT_NAME}}),
                 "responses": {"200": json_response({"type": "object", "required": [
                     "id", "name"]}, "the new concept"), **errors(400, 409, 415)}}},
    "/api/concepts/{id}": {"get": {
        "summary": "A concept: examples, held-out precision and recall at its threshold, and "
                   "its suggestions (unanswered photos above the threshold, likeliest first)",
        "parameters": [CONCEPT_ID],
        "responses": {"200": json_response(CONCEPT, "the concept"), **errors(404)}}},
    "/api/concepts/{id}/answers": {"post": {
        "summary": "Answers about photos: yes (an example), no (not this), skip, clear",
        "parameters": [CONCEPT_ID],
        "requestBody": json_body({"type": "object", "required": ["images", "answer"],
                                  "properties": {"images": {**IDS, "minItems": 1,
                                                            "maxItems": 10000}, "answer": {
                                      "enum": ["yes", "no", "skip", "clear"]}}}),
        "responses": {"200": json_response(OBJECT, "how many were recorded"),
                      **errors(400, 404, 415)}}},
    "/api/concepts/{id}/train": {"post": {
        "summary": "Train now (it also trains by itself after answers)",
        "parameters": [CONCEPT_ID],
        "responses": {"200": json_response(CONCEPT, "the concept, trained"),
                      **errors(400, 404)}}},
    "/api/concepts/{id}/next": {"get": {
        "summary": "The photos whose answers would teach the concept most",
        "parameters": [CONCEPT_ID, {"name": "count", "in": "query", "schema": {
            "type": "integer", "minimum": 1, "maximum": 200}}],
        "responses": {"200": json_response({"type": "object", "required": ["items"],
                                            "properties": {"items": IDS}}, "photos"),
                      **errors(400, 404)}}},
    "/api/tags": {"get": {
        "summary": "Every tag: keywords from XMP and IPTC, and confirmed concepts",
        "responses": {"200": json_response({"type": "object", "required": ["tags"],
                                            "properties": {"tags": {"type": "array", "items": {
                                                "type": "object",
                                                "required": ["name", "source", "count"],
                                                "properties": {
                                                    "name": {"type": "string"},
                                                    "source": {"enum": ["concept", "xmp",
                                                                        "iptc"]},
                                                    "count": {"type": "integer"}}}}}},
                                           "tags")}}},
}


def concept_call(func: Any, *args: Any) -> Any:
    try:
        return func(*args)
    except NoSuchConcept as exc:
        raise NotFound(str(exc.args[0])) from None
    except ConceptError as exc:
        if str(exc).startswith(("there is already", "at most")):  # the library's state
            raise Conflict(str(exc)) from None
        raise BadRequest(str(exc)) from None


def image_ids(library: Library, raw: Any) -> list[bytes]:
    """The body's image ids, each checked for shape and for being in the library."""
    if not isinstance(raw, list) or not raw or len(raw) > MAX_IMAGES:
        raise BadRequest(f'send JSON like {{"images": ["ID"], "answer": "yes"}} with 1 to '
                         f"{MAX_IMAGES:,} image ids")
    return library_ids(library.search.catalog, raw, BadRequest)


async def list_concepts(request: web.Request) -> web.Response:
    concepts = feature_of(request, "concepts").concepts
    return web.json_response({"concepts": await run_blocking(concepts.listing)})


async def new_concept(request: web.Request) -> web.Response:
    concepts = feature_of(request, "concepts").concepts

    async def work() -> Any:
        body = await read_json(request, '{"name": "Rex"}')
        if not isinstance(body, dict):
            raise BadRequest('send JSON like {"name": "Rex"}')
        concept = await run_writing(concept_call, concepts.create, body.get("name"))
        return {"id": concept.id, "name": concept.name}

    return await handle_errors(request, work())


async def get_concept(request: web.Request) -> web.Response:
    concepts = feature_of(request, "concepts").concepts
    cid = request.match_info["id"]
    return web.json_response(await run_blocking(concept_call, concepts.summary, cid))


async def answer(request: web.Request) -> web.Response:
    concepts = feature_of(request, "concepts").concepts
    library: Library = request.app[LIBRARY_KEY]
    cid = request.match_info["id"]

    async def work() -> Any:
        body = await read_json(request, '{"images": ["ID"], "answer": "yes"}')
        if not isinstance(body, dict):
            raise BadRequest('send JSON like {"images": ["ID"], "answer": "yes"}')
        contents = image_ids(library, body.get("images"))
        given = body.get("answer")
        if not isinstance(given, str):
            raise BadRequest('answer is "yes", "no", "skip" or "clear"')
        count = await run_writing(concept_call, concepts.answer, cid, contents, given)
        return {"recorded": count, "answer": given}

    return await handle_errors(request, work())


async def train(request: web.Request) -> web.Response:
    concepts = feature_of(request, "concepts").concepts
    cid = request.match_info["id"]

    async def work() -> Any:
        await run_blocking(concept_call, concepts.train, cid)  # seconds: not a rating's turn
        return await run_blocking(concept_call, concepts.summary, cid)

    return await handle_errors(request, work())


async def ask_next(request: web.Request) -> web.Response:
    concepts = feature_of(request, "concepts").concepts
    cid = request.match_info["id"]
    count = int_param(request, "count", 20, 1, 200)
    items = await run_blocking(concept_call, concepts.ask_next, cid, count)
    return web.json_response({"items": [c.hex() for c in items]})


async def list_tags(request: web.Request) -> web.Response:
    library: Library = request.app[LIBRARY_KEY]
    return web.json_response({"tags": await run_blocking(library.search.catalog.tags.listing)})


def routes() -> list[Route]:
    concept = "/api/concepts/{id:[0-9a-f]{12}}"
    handlers = [("GET", "/api/concepts", list_concepts), ("POST", "/api/concepts", new_concept),
                ("GET", concept, get_concept), ("POST", concept + "/answers", answer),
                ("POST", concept + "/train", train), ("GET", concept + "/next", ask_next),
                ("GET", "/api/tags", list_tags)]
    return [Route(method, path, handler,
                  CONCEPT_PATHS[path.replace("{id:[0-9a-f]{12}}", "{id}")][method.lower()])
            for method, path, handler in handlers]
