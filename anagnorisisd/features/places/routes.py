"""Places over HTTP: clusters for a map, a position by hand, positions from a GPS track.
Work runs on the bounded HTTP pool, never on the event loop."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from anagnorisisd.feature import Route
from anagnorisisd.features.places.clusters import TooManyCells, parse_bbox
from anagnorisisd.features.places.geotag import MAX_GAP_S, MAX_GPX_BYTES, TrackError
from anagnorisisd.features.places.neighbours import MAX_GAP_S as NEIGHBOUR_GAP_S
from anagnorisisd.http.common import (
    LIBRARY_KEY,
    content_id,
    feature_of,
    handle_errors,
    int_param,
    one_param,
    run_blocking,
    run_writing,
)
from anagnorisisd.http.errors import BadRequest, Conflict, NotFound, Unprocessable, read_json
from anagnorisisd.http.schemas import ID, IMAGE_ID, OBJECT, errors, json_body, json_response

POSITION = {"type": "object", "required": ["lat", "lon"], "properties": {
    "lat": {"type": "number", "minimum": -90, "maximum": 90},
    "lon": {"type": "number", "minimum": -180, "maximum": 180}}}
CLUSTER = {"type": "object", "required": ["lat", "lon", "count", "cover", "bbox"],
           "properties": {"lat": {"type": "number"}, "lon": {"type": "number"},
                          "count": {"type": "integer"}, "cover": IMAGE_ID,
                          "bbox": {"type": "array", "items": {"type": "number"}}}}
GAP = {"name": "max_gap_s", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                      "maximum": 86400}}
PATHS: dict[str, Any] = {
    "/api/places": {"get": {
        "summary": "The photos with a position inside a box, as one cluster per map cell of "
                   "the zoom (mean position, count, cover, bounding box), for a search or "
                   "the whole library",
        "parameters": [
            {"name": "bbox", "in": "query", "schema": {
                "type": "string", "pattern": "^[-+0-9.eE]+(,[-+0-9.eE]+){3}$"},
             "description": "W,S,E,N in degrees (default: the whole world)"},
            {"name": "zoom", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                       "maximum": 22}},
            {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 1000}}],
        "responses": {"200": json_response({"type": "object", "required": ["clusters"],
                                            "properties": {"clusters": {
                                                "type": "array", "items": CLUSTER},
                                                "total": {"type": "integer"}}}, "clusters"),
                      **errors(400)}}},
    "/api/images/{id}/place": {
        "put": {"summary": "Put a photo that has no position of its own on the map (409 when "
                           "its own GPS says where it was)",
                "parameters": [ID], "requestBody": json_body(POSITION),
                "responses": {"200": json_response(OBJECT, "its position"),
                              **errors(400, 404, 409, 415)}},
        "delete": {"summary": "Take back a position filled by hand, from a track or from "
                              "neighbouring shots", "parameters": [ID],
                   "responses": {"200": json_response(OBJECT, "cleared"), **errors(404)}}},
    "/api/places/proposals": {
        "get": {"summary": "Positions proposed for photos without one from the same camera's "
                           "shots within max_gap_s (interpolated between the one before and "
                           "the one after)",
                "parameters": [GAP],
                "responses": {"200": json_response({"type": "object", "required": [
                    "proposals"]}, "proposals"), **errors(400)}},
        "post": {"summary": "Accept proposals: their positions are filled (source "
                            "\"neighbour\")", "parameters": [GAP],
                 "requestBody": json_body({"type": "object", "required": ["ids"],
                                           "properties": {"ids": {
                                               "type": "array", "items": IMAGE_ID,
                                               "maxItems": 100000}}}),
                 "responses": {"200": json_response(OBJECT, "how many were filled"),
                               **errors(400, 415)}}},
    "/api/geotag": {"post": {
        "summary": "Positions from a GPS track (the GPX as the body): each photo without "
                   "one, by its capture time in UTC, interpolated between the track's points",
        "parameters": [
            {"name": "offset_s", "in": "query", "schema": {"type": "integer",
                                                           "minimum": -86400,
                                                           "maximum": 86400}},
            {"name": "max_gap_s", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                            "maximum": 86400}},
            {"name": "apply", "in": "query", "schema": {"type": "string",
                                                        "enum": ["true", "false"]}},
            {"name": "write_xmp", "in": "query", "schema": {"type": "string",
                                                            "enum": ["true", "false"]}}],
        "requestBody": {"required": True, "content": {"application/gpx+xml": {
            "schema": {"type": "string", "format": "binary"}}}},
        "responses": {"200": json_response({"type": "object", "required": [
            "matched", "unmatched"]}, "what matched"), **errors(400, 413, 422)}}},
}


async def places(request: web.Request) -> web.Response:
    feature = feature_of(request, "places")
    raw_box = one_param(request, "bbox")
    zoom = int_param(request, "zoom", 2, 0, 22)
    q = one_param(request, "q") or ""
    if len(q) > 1000:
        raise BadRequest("q has at most 1000 characters")
    try:
        box = parse_bbox(raw_box) if raw_box is not None else (-180.0, -90.0, 180.0, 90.0)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None

    async def work() -> Any:
        try:
            return await run_blocking(feature.clusters, box, zoom, q)
        except TooManyCells as exc:
            raise BadRequest(str(exc)) from None

    return await handle_errors(request, work())


def image_of(request: web.Request) -> bytes:
    content = content_id(request)
    if content not in request.app[LIBRARY_KEY].search.catalog:
        raise NotFound("no such image")
    return content


async def put_place(request: web.Request) -> web.Response:
    feature = feature_of(request, "places")
    content = image_of(request)

    async def work() -> Any:
        body = await read_json(request, '{"lat": 38.72, "lon": -9.14}')
        if not isinstance(body, dict):
            raise BadRequest('send JSON like {"lat": 38.72, "lon": -9.14}')
        try:
            return await run_writing(feature.place_by_hand, content, body.get("lat"),
                                     body.get("lon"))
        except PermissionError as exc:
            raise Conflict(str(exc)) from None
        except ValueError as exc:
            raise BadRequest(str(exc)) from None

    return await handle_errors(request, work())


async def delete_place(request: web.Request) -> web.Response:
    feature = feature_of(request, "places")
    content = image_of(request)
    if not await run_writing(feature.book.clear, content):
        raise NotFound("this photo has no filled position (its own GPS stays)")
    return web.json_response({"cleared": content.hex()})


async def geotag(request: web.Request) -> web.Response:
    feature = feature_of(request, "places")
    offset = int_param(request, "offset_s", 0, -86400, 86400)
    given = one_param(request, "offset_s") is not None
    gap = int_param(request, "max_gap_s", int(MAX_GAP_S), 1, 86400)
    apply = one_param(request, "apply") or "false"
    write = one_param(request, "write_xmp") or "false"
    if apply not in ("true", "false") or write not in ("true", "false"):
        raise BadRequest("apply and write_xmp are true or false")
    if request.content_length is not None and request.content_length > MAX_GPX_BYTES:
        raise web.HTTPRequestEntityTooLarge(MAX_GPX_BYTES, request.content_length,
                                            text='{"error": "a GPX file of at most 50 MB"}',
                                            content_type="application/json")

    async def work() -> Any:
        data = await request.content.read(MAX_GPX_BYTES + 1)
        try:
            return await run_writing(feature.geotag, [data], offset if given else None,
                                     float(gap), apply == "true", write == "true")
        except TrackError as exc:
            raise Unprocessable(str(exc)) from None

    return await handle_errors(request, work())


async def proposals(request: web.Request) -> web.Response:
    feature = feature_of(request, "places")
    gap = float(int_param(request, "max_gap_s", int(NEIGHBOUR_GAP_S), 1, 86400))
    found = await run_blocking(feature.proposals, gap)
    return web.json_response({"proposals": found, "count": len(found)})


async def accept(request: web.Request) -> web.Response:
    feature = feature_of(request, "places")
    gap = float(int_param(request, "max_gap_s", int(NEIGHBOUR_GAP_S), 1, 86400))

    async def work() -> Any:
        body = await read_json(request, '{"ids": ["ID"]}')
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or len(ids) > 100_000 or not all(
                isinstance(i, str) and len(i) == 64 and all(c in "0123456789abcdef" for c in i)
                for i in ids):
            raise BadRequest('send JSON like {"ids": ["ID"]}, image ids of 64 hex digits')
        return {"filled": await run_writing(feature.accept, ids, gap)}

    return await handle_errors(request, work())


def routes() -> list[Route]:
    image = "/api/images/{id}/place"
    handlers = [("GET", "/api/places", places), ("PUT", image, put_place),
                ("GET", "/api/places/proposals", proposals),
                ("POST", "/api/places/proposals", accept),
                ("DELETE", image, delete_place), ("POST", "/api/geotag", geotag)]
    return [Route(method, path, handler, PATHS[path][method.lower()])
            for method, path, handler in handlers]
