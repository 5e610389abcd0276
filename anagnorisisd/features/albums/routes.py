"""Albums and memories over HTTP. Every change is written to the store before it is
answered, on the bounded HTTP pool, never on the event loop."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from aiohttp import web

from anagnorisisd.feature import Route
from anagnorisisd.features.albums.service import AlbumConflict, AlbumError, NoSuchAlbum
from anagnorisisd.http.common import (
    LIBRARY_KEY,
    feature_of,
    handle_errors,
    library_ids,
    one_param,
    run_blocking,
    run_writing,
)
from anagnorisisd.http.errors import BadRequest, Conflict, NotFound, read_json
from anagnorisisd.http.schemas import IDS, IMAGE_ID, errors, json_body, json_response
from anagnorisisd.strings import MAX_NAME, name_pattern

MAX_IMAGES = 10_000
ALBUM_NAME = {"type": "string", "minLength": 1, "maxLength": MAX_NAME,
              "pattern": name_pattern('"')}
QUERY = {"type": "string", "minLength": 1, "maxLength": 1000, "pattern": "\\S"}
ALBUM_ID = {"name": "id", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": "^[0-9a-f]{12}$"}}
ALBUM = {"type": "object", "required": ["id", "name", "query", "count", "cover"],
         "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                        "query": {**QUERY, "nullable": True}, "count": {"type": "integer"},
                        "cover": {**IMAGE_ID, "nullable": True}, "smart": {"type": "boolean"},
                        "problem": {"type": "string"}}}
MEMORY = {"type": "object", "required": ["title", "years_ago", "items"], "properties": {
    "title": {"type": "string"}, "years_ago": {"type": "integer"},
    "year": {"type": "integer"}, "total": {"type": "integer"},
    "items": {"type": "array", "items": {"type": "object", "required": ["id", "stands_for"],
                                         "properties": {"id": IMAGE_ID,
                                                        "stands_for": {"type": "integer"}}}}}}
PATHS: dict[str, Any] = {
    "/api/albums": {
        "get": {"summary": "Every album, manual and smart, with its count and cover",
                "responses": {"200": json_response({
                    "type": "object", "required": ["albums"],
                    "properties": {"albums": {"type": "array", "items": ALBUM}}}, "albums")}},
        "post": {"summary": "A new album; with a query it is a smart album, which holds what "
                            "the query finds and follows it live",
                 "requestBody": json_body({"type": "object", "required": ["name"],
                                           "properties": {"name": ALBUM_NAME, "query": {
                                               **QUERY, "nullable": True}}}),
                 "responses": {"201": json_response(ALBUM, "the new album"),
                               **errors(400, 409, 415)}}},
    "/api/albums/{id}": {
        "get": {"summary": "One album", "parameters": [ALBUM_ID],
                "responses": {"200": json_response(ALBUM, "the album"), **errors(404)}},
        "put": {"summary": "Rename an album, or change a smart album's query",
                "parameters": [ALBUM_ID],
                "requestBody": json_body({"type": "object", "properties": {
                    "name": ALBUM_NAME, "query": QUERY}}),
                "responses": {"200": json_response(ALBUM, "the album"),
                              **errors(400, 404, 409, 415)}},
        "delete": {"summary": "Delete an album (never its photos)", "parameters": [ALBUM_ID],
                   "responses": {"200": json_response({"type": "object"}, "deleted"),
                                 **errors(404)}}},
    "/api/albums/{id}/photos": {"post": {
        "summary": "Put photos in a manual album, take others out (409 for a smart one)",
        "parameters": [ALBUM_ID],
        "requestBody": json_body({"type": "object", "properties": {
            "add": {**IDS, "maxItems": MAX_IMAGES}, "remove": {**IDS, "maxItems": MAX_IMAGES}}}),
        "responses": {"200": json_response(ALBUM, "the album"),
                      **errors(400, 404, 409, 415)}}},
    "/api/albums/{id}/files": {"get": {
        "summary": "The files of an album's photos, with their sidecars (what `album export` "
                   "copies)", "parameters": [ALBUM_ID],
        "responses": {"200": json_response({"type": "object", "required": ["files"]},
                                           "files"), **errors(404)}}},
    "/api/memories": {"get": {
        "summary": "On this day in the years before: a group per year, best first by your "
                   "ratings, then your evaluator's, near-duplicates folded",
        "parameters": [{"name": "date", "in": "query", "schema": {
            "type": "string", "format": "date"}}],
        "responses": {"200": json_response({
            "type": "object", "required": ["memories"],
            "properties": {"date": {"type": "string"},
                           "memories": {"type": "array", "items": MEMORY}}}, "memories"),
            **errors(400)}}},
}


def album_call(func: Any, *args: Any) -> Any:
    try:
        return func(*args)
    except NoSuchAlbum as exc:
        raise NotFound(str(exc.args[0])) from None
    except AlbumConflict as exc:
        raise Conflict(str(exc)) from None
    except AlbumError as exc:
        raise BadRequest(str(exc)) from None


def image_list(request: web.Request, raw: Any, key: str) -> list[bytes]:
    if not isinstance(raw, list) or len(raw) > MAX_IMAGES:
        raise BadRequest(f"{key} is a list of at most {MAX_IMAGES:,} image ids")
    return library_ids(request.app[LIBRARY_KEY].search.catalog, raw, BadRequest)


async def body_of(request: web.Request, example: str) -> dict[str, Any]:
    body = await read_json(request, example)
    if not isinstance(body, dict):
        raise BadRequest(f"send JSON like {example}")
    return body


async def list_albums(request: web.Request) -> web.Response:
    albums = feature_of(request, "albums").albums
    return web.json_response({"albums": await run_blocking(albums.listing)})


async def new_album(request: web.Request) -> web.Response:
    albums = feature_of(request, "albums").albums

    async def work() -> Any:
        body = await body_of(request, '{"name": "Lisbon", "query": "place:Lisbon"}')
        album = await run_writing(album_call, albums.create, body.get("name"),
                                  body.get("query"))
        return await run_blocking(album_call, albums.summary, album.id)

    response = await handle_errors(request, work())
    if response.status == 200:
        response.set_status(201)
    return response


async def get_album(request: web.Request) -> web.Response:
    albums = feature_of(request, "albums").albums
    return web.json_response(await run_blocking(album_call, albums.summary,
                                                request.match_info["id"]))


async def put_album(request: web.Request) -> web.Response:
    albums = feature_of(request, "albums").albums
    aid = request.match_info["id"]

    async def work() -> Any:
        body = await body_of(request, '{"name": "Lisbon 2024"}')
        if "query" in body and body["query"] is None:
            raise BadRequest("a smart album keeps a query; delete it to end it")
        if "name" in body and body["name"] is None:
            raise BadRequest('a name is a string: {"name": "Lisbon 2024"}')
        await run_writing(album_call, albums.update, aid, body.get("name"), body.get("query"))
        return await run_blocking(album_call, albums.summary, aid)

    return await handle_errors(request, work())


async def delete_album(request: web.Request) -> web.Response:
    albums = feature_of(request, "albums").albums
    aid = request.match_info["id"]
    await run_writing(album_call, albums.delete, aid)
    return web.json_response({"deleted": aid})


async def change_photos(request: web.Request) -> web.Response:
    albums = feature_of(request, "albums").albums
    aid = request.match_info["id"]

    async def work() -> Any:
        body = await body_of(request, '{"add": ["ID"], "remove": ["ID"]}')
        add = image_list(request, body.get("add", []), "add")
        remove = image_list(request, body.get("remove", []), "remove")
        await run_writing(album_call, albums.change, aid, add, remove)
        return await run_blocking(album_call, albums.summary, aid)

    return await handle_errors(request, work())


async def album_files(request: web.Request) -> web.Response:
    feature = feature_of(request, "albums")
    aid = request.match_info["id"]
    return web.json_response({"files": await run_blocking(album_call, feature.files,
                                                          aid)})


async def memories(request: web.Request) -> web.Response:
    feature = feature_of(request, "albums")
    raw = one_param(request, "date")
    try:
        if raw is not None and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
            raise ValueError(raw)
        day = dt.date.today() if raw is None else dt.date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"date is YYYY-MM-DD, got {raw!r}") from None
    groups = await run_blocking(feature.memories, day)
    return web.json_response({"date": day.isoformat(), "memories": groups})


def routes() -> list[Route]:
    album = "/api/albums/{id:[0-9a-f]{12}}"
    handlers = [("GET", "/api/albums", list_albums), ("POST", "/api/albums", new_album),
                ("GET", album, get_album), ("PUT", album, put_album),
                ("DELETE", album, delete_album), ("POST", album + "/photos", change_photos),
                ("GET", album + "/files", album_files), ("GET", "/api/memories", memories)]
    return [Route(method, path, handler,
                  PATHS[path.replace("{id:[0-9a-f]{12}}", "{id}")][method.lower()])
            for method, path, handler in handlers]
