"""The ratings feature over HTTP: rate a photo, train the evaluator, ask what to rate
next, explain a prediction."""

from __future__ import annotations

import json
import math
from typing import Any

from aiohttp import web

from anagnorisisd.app.presenters import describe
from anagnorisisd.feature import Route
from anagnorisisd.features.ratings.trainer import TrainingBusy
from anagnorisisd.http.common import (
    LIBRARY_KEY,
    content_id,
    feature_of,
    handle_errors,
    image_id,
    int_param,
    json_error,
    require_image,
    run_blocking,
    run_writing,
)
from anagnorisisd.http.errors import BadRequest, InsufficientStorage, read_json
from anagnorisisd.http.schemas import ID, IMAGE, OBJECT, errors, json_body, json_response
from anagnorisisd.ml.service import needs_model
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


def rate(request: web.Request, content: bytes, value: float | None) -> dict[str, Any]:
    try:
        feature_of(request, "ratings").ratings.set(content, value)
    except StoreFull as exc:  # said, never lost silently: nothing changed
        raise InsufficientStorage(f"the rating was not saved: {exc}") from None
    return describe(request.app[LIBRARY_KEY], content)


async def put_rating(request: web.Request) -> web.Response:
    content = content_id(request)

    async def work() -> dict[str, Any]:
        value = parse_rating(await read_json(request, '{"rating": 7}'))
        require_image(request.app[LIBRARY_KEY], content)
        return await run_writing(rate, request, content, value)

    return await handle_errors(request, work())


async def delete_rating(request: web.Request) -> web.Response:
    content = image_id(request)
    return web.json_response(await run_writing(rate, request, content, None))


async def start_training(request: web.Request) -> web.Response:
    feature = feature_of(request, "ratings")
    if feature.context.search.models.maybe_model() is None:
        return json_error(409, needs_model("Training"))
    try:
        feature.trainer.start()
    except TrainingBusy as exc:
        return json_error(409, str(exc))
    return web.json_response(feature.trainer.public_status(), status=202)


async def training_status(request: web.Request) -> web.Response:
    return web.json_response(feature_of(request, "ratings").trainer.public_status())


async def cancel_training(request: web.Request) -> web.Response:
    if not feature_of(request, "ratings").trainer.cancel():
        return json_error(409, "no training run is going")
    return web.json_response({"state": "cancelling"})


def rate_next_json(request: web.Request, count: int) -> dict[str, Any]:
    """First a few photos other features ask about (the closest calls of the stacks: a
    rating there settles a choice the person is about to make), then what would teach the
    evaluator most."""
    library = request.app[LIBRARY_KEY]
    feature = feature_of(request, "ratings")
    others = library.features.asks(max(2, count // 4), besides=feature.name) \
        if count > 1 else []
    asked = dict(others)
    asked.update({c: why for c, why in feature.ask(count) if c not in asked})
    with library.store.snapshot() as reads:
        items = [describe(library, c, reads=reads) | {"asked": why}
                 for c, why in list(asked.items())[:count]]
    return {"total": min(count, len(asked)), "items": items}


async def rate_next(request: web.Request) -> web.Response:
    async def work() -> dict[str, Any]:
        count = int_param(request, "count", 20, 1, 200)
        if feature_of(request, "ratings").context.search.models.maybe_model() is None:
            return {"total": 0, "items": [], "notice": needs_model("Rate-next")}
        return await run_blocking(rate_next_json, request, count)

    return await handle_errors(request, work())


async def explain(request: web.Request) -> web.Response:
    content = image_id(request)
    return web.json_response(await run_blocking(feature_of(request, "ratings").trainer.explain,
                                                content))


SPECS: dict[tuple[str, str], dict[str, Any]] = {
    ("PUT", "/api/images/{id}/rating"): {
        "summary": "Rate an image 0-10", "parameters": [ID],
        "requestBody": json_body({"type": "object", "required": ["rating"],
                                  "properties": {"rating": {"type": "number", "minimum": 0,
                                                            "maximum": 10}}}),
        "responses": {"200": json_response(IMAGE, "the image, rated"),
                      **errors(400, 404, 415, 507)}},
    ("DELETE", "/api/images/{id}/rating"): {
        "summary": "Clear an image's rating", "parameters": [ID],
        "responses": {"200": json_response(IMAGE, "the image"), **errors(404, 507)}},
    ("GET", "/api/images/{id}/explain"): {
        "summary": "The evaluator's rating and the rated images it resembles",
        "parameters": [ID],
        "responses": {"200": json_response(OBJECT, "an explanation"), **errors(404)}},
    ("POST", "/api/train"): {
        "summary": "Start training the personal evaluator",
        "responses": {"202": json_response(OBJECT, "started"), **errors(409)}},
    ("GET", "/api/train"): {
        "summary": "The training run's state, progress and metrics",
        "responses": {"200": json_response(OBJECT, "the run")}},
    ("DELETE", "/api/train"): {
        "summary": "Cancel the training run",
        "responses": {"200": json_response(OBJECT, "cancelling"), **errors(409)}},
    ("GET", "/api/rate-next"): {
        "summary": "The images whose ratings would teach the evaluator most",
        "parameters": [{"name": "count", "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200}}],
        "responses": {"200": json_response(OBJECT, "images"), **errors(400, 503)}},
}
HANDLERS = {("PUT", "/api/images/{id}/rating"): put_rating,
            ("DELETE", "/api/images/{id}/rating"): delete_rating,
            ("GET", "/api/images/{id}/explain"): explain, ("POST", "/api/train"): start_training,
            ("GET", "/api/train"): training_status, ("DELETE", "/api/train"): cancel_training,
            ("GET", "/api/rate-next"): rate_next}


def routes() -> list[Route]:
    return [Route(method, path, handler, SPECS[method, path])
            for (method, path), handler in HANDLERS.items()]
