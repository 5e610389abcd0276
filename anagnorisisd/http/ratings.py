"""Ratings, training, rate-next and explanations over HTTP."""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web

from anagnorisisd.app.library import Library
from anagnorisisd.app.presenters import (
    describe,
)
from anagnorisisd.http.common import (
    LIBRARY_KEY,
    content_id,
    handle_errors,
    image_id,
    int_param,
    json_error,
    require_image,
    run_blocking,
)
from anagnorisisd.http.errors import BadRequest, InsufficientStorage, read_json
from anagnorisisd.ml.service import needs_model
from anagnorisisd.rating.trainer import TrainingBusy
from anagnorisisd.store.database import StoreFull


def parse_rating(body: Any) -> float:
    """The one place a rating is validated: a number from 0 to 10, nothing else."""
    if not isinstance(body, dict) or "rating" not in body:
        raise BadRequest('send JSON like {"rating": 7}')
    value = body["rating"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"rating must be a number from 0 to 10, got {json.dumps(value)}")
    if not math.isfinite(value) or not 0 <= value <= 10:
        raise BadRequest(f"rating must be from 0 to 10, got {value}")
    return float(value)


def set_rating(library: Library, content: bytes, value: float | None) -> dict[str, Any]:
    """The photo's rating (and its RAW twin's: app.ratings), then the photo as it is now."""
    try:
        library.ratings.set(content, value)
    except StoreFull as exc:  # said, never lost silently: the panel shows it, nothing changed
        raise InsufficientStorage(f"the rating was not saved: {exc}") from None
    return describe(library, content)


async def put_rating(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]
    content = content_id(request)

    async def work() -> dict[str, Any]:
        value = parse_rating(await read_json(request, '{"rating": 7}'))
        require_image(library, content)
        return await run_blocking(set_rating, library, content, value)

    return await handle_errors(request, work())


async def delete_rating(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]
    content = image_id(request)
    return web.json_response(await run_blocking(set_rating, library, content, None))


async def start_training(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]
    if library.search.models.maybe_model() is None:
        return json_error(409, needs_model("Training"))
    try:
        library.trainer.start()
    except TrainingBusy as exc:
        return json_error(409, str(exc))
    return web.json_response(library.trainer.public_status(), status=202)


async def training_status(request: web.Request) -> web.Response:
    return web.json_response(request.app[LIBRARY_KEY].trainer.public_status())


async def cancel_training(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]
    if not library.trainer.cancel():
        return json_error(409, "no training run is going")
    return web.json_response({"state": "cancelling"})


def rate_next_json(library: Library, count: int) -> dict[str, Any]:
    """First a few photos from the stacks whose keeper is the closest call (a rating there
    settles a choice the person is about to make), then what would teach the evaluator
    most."""
    close_calls = library.reviews.uncertain(max(2, count // 4)) if count > 1 else []
    rest = [c for c in library.trainer.rate_next(count) if c not in close_calls]
    items = [describe(library, c) | {"asked": "the keeper of its group is a close call"}
             for c in close_calls]
    items += [describe(library, c) | {"asked": "it would teach your evaluator most"}
              for c in rest[: count - len(close_calls)]]
    return {"total": len(items), "items": items}


async def rate_next(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]

    async def work() -> dict[str, Any]:
        count = int_param(request, "count", 20, 1, 200)
        if library.search.models.maybe_model() is None:
            return {"total": 0, "items": [], "notice": needs_model("Rate-next")}
        return await run_blocking(rate_next_json, library, count)

    return await handle_errors(request, work())


async def explain(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]
    content = image_id(request)
    return web.json_response(await run_blocking(library.trainer.explain, content))


def register(app: web.Application) -> None:
    app.router.add_put("/api/images/{id}/rating", put_rating)
    app.router.add_delete("/api/images/{id}/rating", delete_rating)
    app.router.add_get("/api/images/{id}/explain", explain)
    app.router.add_post("/api/train", start_training)
    app.router.add_get("/api/train", training_status)
    app.router.add_delete("/api/train", cancel_training)
    app.router.add_get("/api/rate-next", rate_next)


__all__ = ["register"]
