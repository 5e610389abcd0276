"""The cull workflow over HTTP: the queue of groups, pick/reject, "looked at", and the
plan a trash-everything action shows before it moves anything."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from anagnorisisd.http.common import (
    LIBRARY_KEY,
    content_id,
    handle_errors,
    one_param,
    require_image,
    run_blocking,
)
from anagnorisisd.http.errors import BadRequest, InsufficientStorage, NotFound, read_json
from anagnorisisd.imaging.xmp import LABELS
from anagnorisisd.store.database import StoreFull

MAX_IDS = 10_000
T = TypeVar("T")


async def queue(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]
    return web.json_response(await run_blocking(library.reviews.queue_json))


async def put_decision(request: web.Request) -> web.Response:
    return await put_review(request, "decision", ("pick", "reject"), "pick",
                            request.app[LIBRARY_KEY].reviews.decide)


async def put_label(request: web.Request) -> web.Response:
    return await put_review(request, "label", LABELS, "red",
                            request.app[LIBRARY_KEY].reviews.set_label)


async def put_review(request: web.Request, field: str, choices: tuple[str, ...],
                     example: str, action: Callable[[bytes, str | None], dict[str, Any]]
                     ) -> web.Response:
    """One of a photo's review fields (a decision, a label) set to a choice or null."""
    library = request.app[LIBRARY_KEY]
    content = content_id(request)
    allowed = " or ".join(f'"{c}"' for c in choices)

    async def work() -> dict[str, Any]:
        body = await read_json(request, f'{{"{field}": "{example}"}}')
        if not isinstance(body, dict) or field not in body:
            raise BadRequest(f'send JSON like {{"{field}": "{example}"}} (or null)')
        value = body[field]
        if value is not None and value not in choices:
            raise BadRequest(f"{field} must be {allowed} or null")
        require_image(library, content)
        return await decide(action, content, value)

    return await handle_errors(request, work())


async def delete_decision(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]
    content = require_image(library, content_id(request))
    return await handle_errors(request, decide(library.reviews.decide, content, None))


async def decide(action: Callable[..., T], *args: Any) -> T:
    try:
        return await run_blocking(action, *args)
    except StoreFull as exc:  # said, never lost silently: nothing changed
        raise InsufficientStorage(f"the decision was not saved: {exc}") from None


async def post_seen(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]

    async def work() -> dict[str, Any]:
        body = await read_json(request, '{"ids": ["..."]}')
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_IDS:
            raise BadRequest(f'send JSON like {{"ids": ["..."]}} with 1 to {MAX_IDS} ids')
        contents = []
        for raw in ids:
            try:
                content = bytes.fromhex(raw) if isinstance(raw, str) else b""
            except ValueError:
                content = b""
            if len(content) != 32:
                raise BadRequest(f"{raw!r} is not an image id")
            if content not in library.search.catalog:  # junk ids never reach the store
                raise NotFound(f"{raw!r} is not an image of the library")
            contents.append(content)
        return {"marked": await decide(library.reviews.mark_seen, contents)}

    return await handle_errors(request, work())


async def plan(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]
    what = one_param(request, "what")
    if what not in ("rejects", "non-keepers"):
        raise BadRequest('what must be "rejects" or "non-keepers"')
    return web.json_response(await run_blocking(library.reviews.plan, what))


def register(app: web.Application) -> None:
    app.router.add_get("/api/cull", queue)
    app.router.add_get("/api/cull/plan", plan)
    app.router.add_post("/api/cull/seen", post_seen)
    app.router.add_put("/api/images/{id}/decision", put_decision)
    app.router.add_delete("/api/images/{id}/decision", delete_decision)
    app.router.add_put("/api/images/{id}/label", put_label)


__all__ = ["register"]
