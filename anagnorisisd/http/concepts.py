"""Concepts and tags over HTTP: make a concept, answer about photos, train, ask next.

Answers are written to the store before they are acknowledged, on the bounded HTTP
pool; training after answers runs on the concepts' own thread, and POST …/train (the
one request that waits for it) runs on the pool, never on the event loop.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from anagnorisisd.app.library import Library
from anagnorisisd.concepts.service import ConceptError, NoSuchConcept
from anagnorisisd.http.common import LIBRARY_KEY, handle_errors, int_param, run_blocking
from anagnorisisd.http.errors import BadRequest, Conflict, NotFound, read_json

MAX_IMAGES = 10_000


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
    contents = []
    for item in raw:
        if not isinstance(item, str) or len(item) != 64 or any(
                c not in "0123456789abcdef" for c in item):
            raise BadRequest("an image id is 64 hex digits")
        content = bytes.fromhex(item)
        if content not in library.search.catalog:
            raise NotFound(f"no image {item} in the library")
        contents.append(content)
    return contents


async def list_concepts(request: web.Request) -> web.Response:
    library: Library = request.app[LIBRARY_KEY]
    return web.json_response({"concepts": await run_blocking(library.concepts.listing)})


async def new_concept(request: web.Request) -> web.Response:
    library: Library = request.app[LIBRARY_KEY]

    async def work() -> Any:
        body = await read_json(request, '{"name": "Rex"}')
        if not isinstance(body, dict):
            raise BadRequest('send JSON like {"name": "Rex"}')
        concept = await run_blocking(concept_call, library.concepts.create, body.get("name"))
        return {"id": concept.id, "name": concept.name}

    return await handle_errors(request, work())


async def get_concept(request: web.Request) -> web.Response:
    library: Library = request.app[LIBRARY_KEY]
    cid = request.match_info["id"]
    return web.json_response(await run_blocking(concept_call, library.concepts.summary, cid))


async def answer(request: web.Request) -> web.Response:
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
        count = await run_blocking(concept_call, library.concepts.answer, cid, contents, given)
        return {"recorded": count, "answer": given}

    return await handle_errors(request, work())


async def train(request: web.Request) -> web.Response:
    library: Library = request.app[LIBRARY_KEY]
    cid = request.match_info["id"]

    async def work() -> Any:
        await run_blocking(concept_call, library.concepts.train, cid)
        return await run_blocking(concept_call, library.concepts.summary, cid)

    return await handle_errors(request, work())


async def ask_next(request: web.Request) -> web.Response:
    library: Library = request.app[LIBRARY_KEY]
    cid = request.match_info["id"]
    count = int_param(request, "count", 20, 1, 200)
    items = await run_blocking(concept_call, library.concepts.ask_next, cid, count)
    return web.json_response({"items": [c.hex() for c in items]})


async def list_tags(request: web.Request) -> web.Response:
    library: Library = request.app[LIBRARY_KEY]
    return web.json_response({"tags": await run_blocking(library.search.catalog.tags.listing)})


def register(app: web.Application) -> None:
    app.router.add_get("/api/concepts", list_concepts)
    app.router.add_post("/api/concepts", new_concept)
    app.router.add_get("/api/concepts/{id:[0-9a-f]{12}}", get_concept)
    app.router.add_post("/api/concepts/{id:[0-9a-f]{12}}/answers", answer)
    app.router.add_post("/api/concepts/{id:[0-9a-f]{12}}/train", train)
    app.router.add_get("/api/concepts/{id:[0-9a-f]{12}}/next", ask_next)
    app.router.add_get("/api/tags", list_tags)


__all__ = ["register"]
