"""The pieces of the OpenAPI document that every part of the API shares: the id
parameters, paging, the error body, one image and a page of them, the helpers that write
an operation's responses. The core's paths (http/openapi.py) and each feature's (its
routes) are written with them, so the whole document reads as one."""

from __future__ import annotations

from typing import Any

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


IDS = {"type": "array", "items": IMAGE_ID}
