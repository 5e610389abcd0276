"""The OpenAPI document of /api, kept next to nothing but itself so it is easy to read.

A schemathesis test drives the real server from this document and checks every
answer against it, so the two cannot drift apart silently.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from anagnorisisd import __version__
from anagnorisisd.strings import MAX_NAME, NOT_IN_NAMES, name_pattern

ID = {"name": "id", "in": "path", "required": True,
      "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
      "description": "the image id: the hex BLAKE3 hash of its content"}
PAGING = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                "maximum": 1_000_000}},
    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                    "maximum": 500}},
]
ERROR = {"type": "object", "required": ["error"], "properties": {
    "error": {"type": "string"}, "token": {"type": "string"}, "position": {"type": "integer"}}}
NULLABLE_INT = {"type": "integer", "nullable": True}
NULLABLE_NUM = {"type": "number", "nullable": True}
IMAGE = {
    "type": "object",
    "required": ["id", "path", "width", "height", "file_size", "format", "user_rating",
                 "model_rating", "score"],
    "properties": {
        "id": {"type": "string"}, "path": {"type": "string", "nullable": True},
        "paths": {"type": "array", "items": {"type": "string"}},
        "width": NULLABLE_INT, "height": NULLABLE_INT, "file_size": NULLABLE_INT,
        "format": {"type": "string", "nullable": True},
        "user_rating": NULLABLE_NUM, "model_rating": NULLABLE_NUM, "score": NULLABLE_NUM,
        "matched_text": {"type": "array", "items": {"type": "string"},
                         "description": "the lines of text a result was found by"},
        "tags": {"type": "array", "items": {"type": "object", "properties": {
            "name": {"type": "string"}, "source": {"enum": ["concept", "xmp", "iptc"]}}},
                 "description": "keywords from its files and the concepts confirmed for it"},
        "suggested_tags": {"type": "array", "items": {"type": "string"},
                           "description": "concepts that suggest it (not yet answered)"},
        "decision": {"type": "string", "nullable": True, "enum": ["pick", "reject", None]},
        "label": {"type": "string", "nullable": True,
                  "enum": ["red", "yellow", "green", "blue", "purple", None]},
    },
}
PAGE = {"type": "object", "required": ["total", "page", "per_page", "items"], "properties": {
    "total": {"type": "integer"}, "page": {"type": "integer"}, "per_page": {"type": "integer"},
    "items": {"type": "array", "items": IMAGE}}}


TEXT: dict[str, Any] = {
    "type": "object", "required": ["state", "lines"],
    "properties": {
        "state": {"type": "string", "enum": ["read", "pending", "failed"]},
        "error": {"type": "string", "nullable": True},
        "width": NULLABLE_INT, "height": NULLABLE_INT,
        "read_at": {"type": "array", "nullable": True, "items": {"type": "integer"}},
        "model": {"type": "string", "nullable": True},
        "lines": {"type": "array", "items": {
            "type": "object", "required": ["text", "box", "score"],
            "properties": {"text": {"type": "string"},
                           "box": {"type": "array", "items": {"type": "number"},
                                   "minItems": 4, "maxItems": 4},
                           "quad": {"type": "array", "nullable": True,
                                    "items": {"type": "number"}},
                           "score": {"type": "number"}}}}}}


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR_TEXT = {
    400: "malformed request", 401: "missing or wrong token",
    403: "refused (Host or cross-site)", 404: "no such image", 409: "conflict",
    413: "too large", 415: "not JSON", 422: "a photo that cannot be decoded",
    503: "semantic search unavailable (no model yet)", 507: "the store is full"}
"""Every error status the API answers with, each with what it means (the README lists them)."""


def errors(*codes: int) -> dict[str, Any]:
    return {str(c): json_response(ERROR, ERROR_TEXT[c]) for c in codes}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


OBJECT = {"type": "object"}
IMAGE_ID = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
ABSOLUTE_PATH = {"type": "string", "minLength": 1, "pattern": "^/[^\u0000]*$"}
FILE_LIST = {"type": "array", "minItems": 1, "maxItems": 10000, "items": {
    "type": "object", "required": ["id", "path"],
    "properties": {"id": IMAGE_ID, "path": ABSOLUTE_PATH}}}
FILES = {"type": "object", "required": ["files"], "properties": {
    "files": FILE_LIST, "destination": {"type": "string", "pattern": "^[^\u0000]*$"}}}
TRASH_FILES = {"type": "object", "required": ["files"], "properties": {
    "files": FILE_LIST, "generation": {"type": "integer"}}}


PERSON_ID = {"name": "id", "in": "path", "required": True,
             "schema": {"type": "string", "pattern": "^[0-9a-f]{12}$"},
             "description": "a person's id"}
FACE_ID = {"name": "id", "in": "path", "required": True,
           "schema": {"type": "string", "pattern": "^[0-9a-f]{64}-[0-9]{1,5}$"},
           "description": "a face: its image's id, a dash, and its index in that image"}
NAME = {"type": "string", "nullable": True, "maxLength": MAX_NAME}
PERSON_NAME = {"type": "string", "nullable": True, "maxLength": MAX_NAME,
               "pattern": f"^[^{NOT_IN_NAMES}]*$",
               "description": "a name; null or only white space: unnamed"}
CONCEPT_NAME = {"type": "string", "minLength": 1, "maxLength": MAX_NAME,
                "pattern": name_pattern("|/")}
PERSON = {"type": "object", "required": ["id", "name", "faces", "photos"], "properties": {
    "id": {"type": "string"}, "name": NAME, "faces": {"type": "integer"},
    "photos": {"type": "integer"}, "hidden": {"type": "boolean"},
    "cover": {"type": "string", "nullable": True}}}
FACE = {"type": "object", "required": ["id", "box", "score", "person"], "properties": {
    "id": {"type": "string"}, "box": {"type": "array", "items": {"type": "number"},
                                      "minItems": 4, "maxItems": 4},
    "score": {"type": "number"}, "person": {"type": "string", "nullable": True},
    "name": NAME, "small": {"type": "boolean"}, "hidden": {"type": "boolean"},
    "eyes": {"enum": ["open", "closed", "unknown"]},
    "sharpness": {"type": "number", "nullable": True},
    "blurry": {"type": "boolean", "nullable": True},
    "looking": {"enum": ["camera", "away", "unknown"]}}}
CONCEPT_ID = {"name": "id", "in": "path", "required": True,
              "schema": {"type": "string", "pattern": "^[0-9a-f]{12}$"}}
IDS = {"type": "array", "items": IMAGE_ID}
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
PEOPLE_PATHS: dict[str, Any] = {
    "/api/people": {
        "get": {"summary": "Everyone found in the photos, the largest first (hidden=1: the "
                           "hidden ones); `summary` counts faces and says how they were grouped",
                "parameters": [{"name": "hidden", "in": "query",
                                "schema": {"type": "string", "enum": ["0", "1"]}}],
                "responses": {"200": json_response({"type": "object", "required": ["people"],
                                                    "properties": {"people": {
                                                        "type": "array", "items": PERSON}}},
                                                   "people"), **errors(400)}},
        "post": {"summary": "A new person from some faces (naming a face by hand)",
                 "requestBody": json_body({"type": "object", "required": ["name", "faces"],
                                           "properties": {"name": PERSON_NAME, "faces": {
                                               "type": "array", "minItems": 1,
                                               "maxItems": 1000,
                                               "items": FACE_ID["schema"]}}}),
                 "responses": {"200": json_response(PERSON, "the new person"),
                               **errors(400, 404, 415)}}},
    "/api/people/regroup": {"post": {
        "summary": "Group every face into people afresh, in the background",
        "responses": {"202": json_response(OBJECT, "started"), **errors(409)}}},
    "/api/people/{id}": {
        "get": {"summary": "A person: their faces and photos", "parameters": [PERSON_ID],
                "responses": {"200": json_response(PERSON, "the person"), **errors(404)}},
        "put": {"summary": "Name a person (null: unnamed), or hide or show them",
                "parameters": [PERSON_ID],
                "requestBody": json_body({
                    "type": "object", "anyOf": [{"required": ["name"]}, {"required": ["hidden"]}],
                    "properties": {"name": PERSON_NAME, "hidden": {"type": "boolean"}}}),
                "responses": {"200": json_response(PERSON, "the person"),
                              **errors(400, 404, 415)}}},
    "/api/people/{id}/merge": {"post": {
        "summary": "Merge this person into another", "parameters": [PERSON_ID],
        "requestBody": json_body({"type": "object", "required": ["into"], "properties": {
            "into": {"type": "string", "pattern": "^[0-9a-f]{12}$"}}}),
        "responses": {"200": json_response(PERSON, "the person merged into"),
                      **errors(400, 404, 409, 415)}}},
    "/api/faces/{id}": {"put": {
        "summary": "Move a face to a person, out of its person (null), or hide it",
        "parameters": [FACE_ID],
        "requestBody": json_body({
            "type": "object", "anyOf": [{"required": ["person"]}, {"required": ["hidden"]}],
            "properties": {"person": {"type": "string", "nullable": True,
                                      "pattern": "^[0-9a-f]{12}$"},
                           "hidden": {"type": "boolean"}}}),
        "responses": {"200": json_response(FACE, "the face"), **errors(400, 404, 415)}}},
    "/api/faces/{id}/crop": {"get": {
        "summary": "The face cut from its photo (JPEG, 160 px)", "parameters": [FACE_ID],
        "responses": {"200": {"description": "a JPEG", "content": {
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
            **errors(404)}}},
    "/api/images/{id}/faces": {"get": {
        "summary": "The faces in an image, with their boxes in upright full-size pixels",
        "parameters": [ID],
        "responses": {"200": json_response({"type": "object", "required": ["faces"],
                                            "properties": {"faces": {"type": "array",
                                                                     "items": FACE}}},
                                           "the faces"), **errors(404)}}},
}


SPEC: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "anagnorisisd", "version": __version__,
             "description": "Local image-library assistant. Ids are content hashes."},
    "paths": {
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
        "/api/images/{id}/text": {"get": {
            "summary": "The lines of text read in the photo (OCR), with their boxes in pixels "
                       "of the upright photo at full size", "parameters": [ID],
            "responses": {"200": json_response(TEXT, "its lines; state says whether it has "
                                               "been read yet"), **errors(404)}}},
        "/api/search/by-image": {"post": {
            "summary": "Images like the posted one (raw bytes or multipart)",
            "parameters": PAGING,
            "requestBody": {"required": True, "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
            "responses": {"200": json_response(PAGE, "similar images"),
                          **errors(400, 413, 422, 503)}}},
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
        "/api/images/{id}/rating": {
            "put": {"summary": "Rate an image 0-10", "parameters": [ID],
                    "requestBody": json_body({"type": "object", "required": ["rating"],
                                              "properties": {"rating": {
                                                  "type": "number", "minimum": 0,
                                                  "maximum": 10}}}),
                    "responses": {"200": json_response(IMAGE, "the image, rated"),
                                  **errors(400, 404, 415, 507)}},
            "delete": {"summary": "Clear an image's rating", "parameters": [ID],
                       "responses": {"200": json_response(IMAGE, "the image"),
                                     **errors(404, 507)}},
        },
        "/api/images/{id}/explain": {"get": {
            "summary": "The evaluator's rating and the rated images it resembles",
            "parameters": [ID],
            "responses": {"200": json_response(OBJECT, "an explanation"), **errors(404)}}},
        "/api/images/{id}/reveal": {"post": {
            "summary": "Show the file in the desktop's file manager, if one is reachable",
            "parameters": [ID],
            "responses": {"200": json_response(OBJECT, "what happened"), **errors(404)}}},
        "/api/train": {
            "post": {"summary": "Start training the personal evaluator",
                     "responses": {"202": json_response(OBJECT, "started"), **errors(409)}},
            "get": {"summary": "The training run's state, progress and metrics",
                    "responses": {"200": json_response(OBJECT, "the run")}},
            "delete": {"summary": "Cancel the training run",
                       "responses": {"200": json_response(OBJECT, "cancelling"),
                                     **errors(409)}},
        },
        "/api/rate-next": {"get": {
            "summary": "The images whose ratings would teach the evaluator most",
            "parameters": [{"name": "count", "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 200}}],
            "responses": {"200": json_response(OBJECT, "images"), **errors(400, 503)}}},
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
        **PEOPLE_PATHS,
        **CONCEPT_PATHS,
    },
}


async def handler(request: web.Request) -> web.Response:
    return web.json_response(SPEC)
