"""The culling feature over HTTP: the queue of groups to review, pick and reject, colour
labels, "looked at", the plan a trash-everything action shows before it moves anything,
the stacks and the duplicates."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from anagnorisisd.feature import Route
from anagnorisisd.http.common import (
    LIBRARY_KEY,
    content_id,
    feature_of,
    handle_errors,
    one_param,
    require_image,
    run_blocking,
    run_writing,
)
from anagnorisisd.http.errors import BadRequest, InsufficientStorage, NotFound, read_json
from anagnorisisd.http.schemas import ID, IMAGE_ID, OBJECT, errors, json_body, json_response
from anagnorisisd.imaging.xmp import LABELS
from anagnorisisd.store.database import StoreFull

if TYPE_CHECKING:
    from anagnorisisd.app.library import Library
    from anagnorisisd.features.culling.feature import CullingFeature

MAX_IDS = 10_000
T = TypeVar("T")
PATHS: dict[str, Any] = {
    "/api/duplicates": {"get": {
        "summary": "Exact copies and near-duplicates, with a suggested keeper",
        "parameters": [{"name": "threshold", "in": "query",
                        "schema": {"type": "number", "exclusiveMinimum": True, "minimum": 0,
                                   "maximum": 1}}],
        "responses": {"200": json_response({"type": "object", "required": ["groups"],
                                            "properties": {"groups": {"type": "array"}}},
                                           "groups"), **errors(400)}}},
    "/api/stacks": {"get": {
        "summary": "Bursts and repeated shots, each with the keeper your taste suggests",
        "responses": {"200": json_response({
            "type": "object", "required": ["stacks"],
            "properties": {"stacks": {"type": "array", "items": {
                "type": "object", "required": ["members", "keeper", "reason", "kind"],
                "properties": {"members": {"type": "array", "items": {"type": "string"}},
                               "keeper": {"type": "string"},
                               "reason": {"type": "string"},
                               "kind": {"enum": ["burst", "bracket", "panorama",
                                                 "pair"]},
                               "faults": {"type": "object", "additionalProperties": {
                                   "type": "array", "items": {"type": "string"}}}}}}}},
            "stacks")}}},
    "/api/cull": {"get": {
        "summary": "Stacks and near-duplicate groups to review, unreviewed first, with "
                   "the keeper, the reason and the person's picks and rejects",
        "responses": {"200": json_response(OBJECT, "the review queue")}}},
    "/api/cull/plan": {"get": {
        "summary": "What a cull would move to the trash, counted: every reject, or every "
                   "photo of a reviewed group that is not kept",
        "parameters": [{"name": "what", "in": "query", "required": True,
                        "schema": {"type": "string", "enum": ["rejects", "non-keepers"]}}],
        "responses": {"200": json_response(OBJECT, "files, images and bytes"),
                      **errors(400)}}},
    "/api/cull/seen": {"post": {
        "summary": "Mark images as looked at (their groups leave the unreviewed queue)",
        "requestBody": json_body({"type": "object", "required": ["ids"], "properties": {
            "ids": {"type": "array", "minItems": 1, "maxItems": 10000,
                    "items": IMAGE_ID}}}),
        "responses": {"200": json_response(OBJECT, "how many were marked"),
                      **errors(400, 404, 415, 507)}}},
    "/api/images/{id}/decision": {
        "put": {"summary": "Pick (keep) or reject an image in the cull view",
                "parameters": [ID],
                "requestBody": json_body({"type": "object", "required": ["decision"],
                                          "properties": {"decision": {
                                              "enum": ["pick", "reject", None]}}}),
                "responses": {"200": json_response(OBJECT, "the decision"),
                              **errors(400, 404, 415, 507)}},
        "delete": {"summary": "Clear an image's pick or reject", "parameters": [ID],
                   "responses": {"200": json_response(OBJECT, "the decision"),
                                 **errors(404, 507)}},
    },
    "/api/images/{id}/label": {
        "put": {"summary": "Give an image a colour label, or take it off (null); written "
                           "to its XMP sidecar as Lightroom, digiKam and darktable read "
                           "it when [ratings] write_xmp",
                "parameters": [ID],
                "requestBody": json_body({"type": "object", "required": ["label"],
                                          "properties": {"label": {
                                              "enum": ["red", "yellow", "green", "blue",
                                                       "purple", None]}}}),
                "responses": {"200": json_response(OBJECT, "the decision and label"),
                              **errors(400, 404, 415, 507)}},
    },
}


def duplicate_groups(library: Library, feature: CullingFeature, threshold: float) -> dict[str, Any]:
    groups = []
    for contents in library.search.duplicate_groups(threshold):
        files: list[dict[str, Any]] = []
        for content in contents:
            entry = library.search.catalog.get(content)
            for path in sorted(library.store.paths_for(content)):
                record = library.store.get_file(path)
                files.append({
                    "id": content.hex(), "path": path,
                    "width": entry.width if entry else None,
                    "height": entry.height if entry else None,
                    "file_size": entry.file_size if entry else None,
                    "mtime_ns": record.mtime_ns if record else None,
                })
        if len(files) < 2:
            continue
        if len(contents) == 1:  # one photo at several paths: keep the oldest file of it
            keeper = min(files, key=lambda f: (f["mtime_ns"] or 0, f["path"]))
            reason = "exact copies of one photo: the oldest file is kept"
        else:
            content, reason = feature.culling.keeper(contents)
            keeper = next(f for f in files if f["id"] == content.hex())
            kept = [bytes.fromhex(keeper["id"])]
            for f in files:  # the model grouped them: do their pixels agree?
                f["alike"] = feature.culling.looks_alike(bytes.fromhex(f["id"]), kept)
        groups.append({"kind": "exact" if len(contents) == 1 else "near", "files": files,
                       "keeper": {"id": keeper["id"], "path": keeper["path"]},
                       "reason": reason})
    return {"threshold": threshold, "total": len(groups), "groups": groups,
            "notice": feature.culling.model_notice()}


async def decide(action: Callable[..., T], *args: Any) -> T:
    try:
        return await run_writing(action, *args)
    except StoreFull as exc:  # said, never lost silently: nothing changed
        raise InsufficientStorage(f"the decision was not saved: {exc}") from None


def culling(request: web.Request) -> CullingFeature:
    feature: CullingFeature = feature_of(request, "culling")
    return feature


async def queue(request: web.Request) -> web.Response:
    return web.json_response(await run_blocking(culling(request).reviews.queue_json))


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


async def put_decision(request: web.Request) -> web.Response:
    return await put_review(request, "decision", ("pick", "reject"), "pick",
                            culling(request).reviews.decide)


async def put_label(request: web.Request) -> web.Response:
    return await put_review(request, "label", LABELS, "red", culling(request).reviews.set_label)


async def delete_decision(request: web.Request) -> web.Response:
    content = require_image(request.app[LIBRARY_KEY], content_id(request))
    return await handle_errors(request, decide(culling(request).reviews.decide, content, None))


def image_ids(body: Any, library: Library) -> list[bytes]:
    """The ids of a {"ids": [...]} body, each an image of the library (junk ids never
    reach the store)."""
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
        if content not in library.search.catalog:
            raise NotFound(f"{raw!r} is not an image of the library")
        contents.append(content)
    return contents


async def post_seen(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]

    async def work() -> dict[str, Any]:
        contents = image_ids(await read_json(request, '{"ids": ["..."]}'), library)
        return {"marked": await decide(culling(request).reviews.mark_seen, contents)}

    return await handle_errors(request, work())


async def plan(request: web.Request) -> web.Response:
    what = one_param(request, "what")
    if what not in ("rejects", "non-keepers"):
        raise BadRequest('what must be "rejects" or "non-keepers"')
    return web.json_response(await run_blocking(culling(request).reviews.plan, what))


def threshold_of(request: web.Request, default: float) -> float:
    raw = one_param(request, "threshold")
    if raw is None:
        return default
    try:
        threshold = float(raw)
    except ValueError:
        raise BadRequest(f"threshold must be a number, got {raw!r}") from None
    if not 0.0 < threshold <= 1.0:
        raise BadRequest("threshold must be above 0 and at most 1")
    return threshold


async def duplicates(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]

    async def work() -> dict[str, Any]:
        threshold = threshold_of(request, library.config.index.duplicate_threshold)
        return await run_blocking(duplicate_groups, library, culling(request), threshold)

    return await handle_errors(request, work())


async def stacks(request: web.Request) -> web.Response:
    return web.json_response(await run_blocking(culling(request).culling.stacks_json))


HANDLERS = {("GET", "/api/cull"): queue, ("GET", "/api/cull/plan"): plan,
            ("POST", "/api/cull/seen"): post_seen,
            ("PUT", "/api/images/{id}/decision"): put_decision,
            ("DELETE", "/api/images/{id}/decision"): delete_decision,
            ("PUT", "/api/images/{id}/label"): put_label,
            ("GET", "/api/duplicates"): duplicates, ("GET", "/api/stacks"): stacks}


def routes() -> list[Route]:
    return [Route(method, path, handler, PATHS[path][method.lower()])
            for (method, path), handler in HANDLERS.items()]
