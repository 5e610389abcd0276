"""The OpenAPI document of /api: the core's own paths here, each feature's from its routes
(Feature.routes), merged once per app.

A schemathesis test drives the real server from this document and checks every answer
against it, so the two cannot drift apart silently; another checks that every route the
server has is in it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from anagnorisisd import __version__
from anagnorisisd.feature import Route
from anagnorisisd.http.schemas import (
    ABSOLUTE_PATH,
    FILES,
    ID,
    IMAGE,
    OBJECT,
    PAGE,
    PAGING,
    TRASH_FILES,
    errors,
    json_body,
    json_response,
)

SPEC_KEY = web.AppKey("openapi", dict)
SPEC_BYTES_KEY = web.AppKey("openapi_bytes", bytes)
"""The document as JSON, made once: it never changes while the app runs, and dumping it
at every request took 6% of the daemon's interpreter time under the soak's load, on
the event loop."""
VOCABULARY = {"type": "object", "required": ["words"], "properties": {"words": {
    "type": "array", "items": {"type": "object", "required": ["word", "feature", "help"],
                               "properties": {"word": {"type": "string"},
                                              "kind": {"type": "string"},
                                              "feature": {"type": "string"},
                                              "help": {"type": "string"},
                                              "negatable": {"type": "boolean"}}}}}}
CORE_PATHS: dict[str, Any] = {
    "/api/status": {"get": {"summary": "Progress, stages, model and index",
                            "responses": {"200": json_response({"type": "object"}, "status")}}},
    "/api/library": {
        "get": {"summary": "The library paths",
                "responses": {"200": json_response({"type": "object"}, "paths")}},
        "put": {"summary": "Set the library paths (validated, persisted, watched)",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"type": "object", "required": ["paths"], "properties": {
                        "paths": {"type": "array", "items": {"type": "string"}}}}}}},
                "responses": {"200": json_response({"type": "object"}, "the new paths"),
                              **errors(400)}},
    },
    "/api/failures": {"get": {"summary": "Failed files with stage and reason",
                              "parameters": [{"name": "format", "in": "query",
                                              "schema": {"type": "string",
                                                         "enum": ["json", "csv"]}}],
                              "responses": {"200": {"description": "failures", "content": {
                                  "application/json": {"schema": {"type": "object"}},
                                  "text/csv": {"schema": {"type": "string"}}}},
                                  **errors(400)}}},
    "/api/images": {"get": {
        "summary": "Search, sort and filter with the query language",
        "parameters": [
            {"name": "q", "in": "query", "schema": {"type": "string"},
             "description": "free text, keywords and filters; see docs/query.md"},
            *PAGING,
            {"name": "seed", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                       "maximum": 2**31}},
            {"name": "order", "in": "query", "schema": {"type": "string",
                                                        "enum": ["asc", "desc"]}},
        ],
        "responses": {"200": json_response(PAGE, "a page of images"), **errors(400, 503)}}},
    "/api/images/{id}": {"get": {
        "summary": "One image", "parameters": [ID],
        "responses": {"200": json_response(IMAGE, "the image"), **errors(404)}}},
    "/api/images/{id}/file": {"get": {
        "summary": "The original file (Range requests supported)", "parameters": [ID],
        "responses": {"200": {"description": "the file", "content": {
            "image/*": {"schema": {"type": "string", "format": "binary"}}}},
            "206": {"description": "part of the file"}, **errors(404)}}},
    "/api/images/{id}/thumbnail": {"get": {
        "summary": "A small JPEG or WebP", "parameters": [ID],
        "responses": {"200": {"description": "the thumbnail", "content": {
            "image/*": {"schema": {"type": "string", "format": "binary"}}}},
            "304": {"description": "not modified"}, **errors(404)}}},
    "/api/images/{id}/preview": {"get": {
        "summary": "The photo as a browser can show it (HEIC, TIFF and RAW as JPEG), at "
                   "most `size` pixels on its longest side", "parameters": [ID, {
            "name": "size", "in": "query", "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": 100000}}],
        "responses": {"200": {"description": "the original when a browser shows it as it "
                              "is and it is no larger, else a JPEG rendition", "content": {
            "image/*": {"schema": {"type": "string", "format": "binary"}}}},
            **errors(400, 404, 422)}}},
    "/api/images/{id}/similar": {"get": {
        "summary": "Images like this one", "parameters": [ID, *PAGING],
        "responses": {"200": json_response(PAGE, "similar images"),
                      **errors(400, 404, 503)}}},
    "/api/search/by-image": {"post": {
        "summary": "Images like the posted one (raw bytes or multipart)",
        "parameters": PAGING,
        "requestBody": {"required": True, "content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
        "responses": {"200": json_response(PAGE, "similar images"),
                      **errors(400, 413, 422, 503)}}},
    "/api/images/{id}/reveal": {"post": {
        "summary": "Show the file in the desktop's file manager, if one is reachable",
        "parameters": [ID],
        "responses": {"200": json_response(OBJECT, "what happened"), **errors(404)}}},
    "/api/files/trash": {"post": {
        "summary": "Move files of the library to the system trash (never deletes). With "
                   "the `generation` of a cull plan, refused (409) if a pick or reject "
                   "came in since that plan",
        "requestBody": json_body(TRASH_FILES),
        "responses": {"200": json_response(OBJECT, "trashed and failed files"),
                      **errors(400, 404, 409, 415)}}},
    "/api/files/restore": {"post": {
        "summary": "Undo a trash: put files back where they were (never overwrites)",
        "requestBody": json_body({"type": "object", "required": ["paths"], "properties": {
            "paths": {"type": "array", "minItems": 1, "maxItems": 10000,
                      "items": ABSOLUTE_PATH}}}),
        "responses": {"200": json_response(OBJECT, "restored and failed files"),
                      **errors(400, 403, 415)}}},
    "/api/files/move": {"post": {
        "summary": "Move files to a folder inside the library",
        "requestBody": json_body(FILES),
        "responses": {"200": json_response(OBJECT, "moved and failed files"),
                      **errors(400, 403, 404, 415)}}},
    "/api/events": {"get": {
        "summary": "Server-sent events: the status document every second",
        "responses": {"200": {"description": "an event stream", "content": {
            "text/event-stream": {"schema": {"type": "string"}}}}}}},
    "/api/openapi.json": {"get": {
        "summary": "This document",
        "responses": {"200": json_response(OBJECT, "the OpenAPI document")}}},
    "/api/vocabulary": {"get": {
        "summary": "Every query word, the feature that answers it, and its help line",
        "responses": {"200": json_response(VOCABULARY, "the words")}}},
    "/api/features": {"get": {
        "summary": "The features loaded, those that could not be, and their panel modules",
        "responses": {"200": json_response(OBJECT, "the features")}}},
}


def document(routes: list[tuple[str, Route]]) -> dict[str, Any]:
    """The whole document: the core's paths and every feature's, each operation once."""
    paths: dict[str, Any] = {path: dict(ops) for path, ops in CORE_PATHS.items()}
    for feature, route in routes:
        path = re.sub(r"\{(\w+):.*?\}(?=/|$)", r"{\1}", route.path)  # {id:REGEX} -> {id}
        operations = paths.setdefault(path, {})
        method = route.method.lower()
        if method in operations:
            raise ValueError(f"{route.method} {path} of feature {feature} is taken")
        operations[method] = {**route.spec, "tags": [feature]}
    return {"openapi": "3.0.3",
            "info": {"title": "anagnorisisd", "version": __version__,
                     "description": "Local image-library assistant. Ids are content hashes."},
            "paths": paths}


def serve(app: web.Application, routes: list[tuple[str, Route]]) -> None:
    """The document of the core's and these routes, at /api/openapi.json."""
    app[SPEC_KEY] = document(routes)
    app[SPEC_BYTES_KEY] = json.dumps(app[SPEC_KEY]).encode()
    app.router.add_get("/api/openapi.json", handler)


async def handler(request: web.Request) -> web.Response:
    return web.Response(body=request.app[SPEC_BYTES_KEY], content_type="application/json")
