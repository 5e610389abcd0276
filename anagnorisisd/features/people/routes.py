"""People and faces over HTTP: list, look at, name, merge, hide, move a face, crop a face.

Reads come from memory (app: PeopleDesk); edits are written to the store before they
are answered, on the bounded HTTP pool, never on the event loop. A face crop is cut from
the photo through the bounded decode path and kept in a small in-memory LRU.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from anagnorisisd.feature import Route
from anagnorisisd.features.people.corrections import NameTaken, NothingToUndo
from anagnorisisd.features.people.service import NoSuchPerson
from anagnorisisd.http.common import (
    feature_of,
    handle_errors,
    image_id,
    json_error,
    run_blocking,
    run_writing,
)
from anagnorisisd.http.errors import BadRequest, Conflict, NotFound, read_json
from anagnorisisd.http.schemas import ID, OBJECT, errors, json_body, json_response
from anagnorisisd.strings import MAX_NAME, NOT_IN_NAMES, name_problem

PERSON_ID_RE = re.compile(r"[0-9a-f]{12}")
"""Face crops kept in memory (about 8 KB each)."""
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
PERSON = {"type": "object", "required": ["id", "name", "faces", "photos"], "properties": {
    "id": {"type": "string"}, "name": NAME, "faces": {"type": "integer"},
    "photos": {"type": "integer"}, "hidden": {"type": "boolean"},
    "cover": {"type": "string", "nullable": True},
    "touched": {"type": "number", "nullable": True,
                "description": "when the person last chose this person (recent first)"}}}
FACE = {"type": "object", "required": ["id", "box", "score", "person"], "properties": {
    "id": {"type": "string"}, "box": {"type": "array", "items": {"type": "number"},
                                      "minItems": 4, "maxItems": 4},
    "score": {"type": "number"}, "person": {"type": "string", "nullable": True},
    "name": NAME, "small": {"type": "boolean"}, "hidden": {"type": "boolean"},
    "at_s": {"type": "number", "nullable": True,
             "description": "for a face in a video: the second of the scene it is in"},
    "eyes": {"enum": ["open", "closed", "unknown"]},
    "sharpness": {"type": "number", "nullable": True},
    "blurry": {"type": "boolean", "nullable": True},
    "looking": {"enum": ["camera", "away", "unknown"]},
    "likeness": {"type": "number", "nullable": True,
                 "description": "cosine to the mean of its person's faces (a person's "
                                "page lists the least alike first)"}}}
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
        "post": {"summary": "A new person from some faces; 409 with the other person's id "
                            "when the name is taken (no two people share a name)",
                 "requestBody": json_body({"type": "object", "required": ["name", "faces"],
                                           "properties": {"name": PERSON_NAME, "faces": {
                                               "type": "array", "minItems": 1,
                                               "maxItems": 1000,
                                               "items": FACE_ID["schema"]}}}),
                 "responses": {"200": json_response(PERSON, "the new person"),
                               **errors(400, 404, 409, 415)}}},
    "/api/people/undo": {"post": {
        "summary": "Undo the last correction (a name, a merge, a face moved or hidden, a "
                   "person hidden), as `summary.last_correction` of GET /api/people says it",
        "responses": {"200": json_response({"type": "object", "required": ["undone"],
                                            "properties": {"undone": {"type": "string"},
                                                           "last_correction": {
                                                               "type": "object",
                                                               "nullable": True}}},
                                           "what was undone"), **errors(409)}}},
    "/api/people/regroup": {"post": {
        "summary": "Group every face into people afresh, in the background",
        "responses": {"202": json_response(OBJECT, "started"), **errors(409)}}},
    "/api/people/{id}": {
        "get": {"summary": "A person: their faces and photos", "parameters": [PERSON_ID],
                "responses": {"200": json_response(PERSON, "the person"), **errors(404)}},
        "put": {"summary": "Name a person (null: unnamed), or hide or show them; a name "
                           "another person has is refused (409, with that person's id)",
                "parameters": [PERSON_ID],
                "requestBody": json_body({
                    "type": "object", "anyOf": [{"required": ["name"]}, {"required": ["hidden"]}],
                    "properties": {"name": PERSON_NAME, "hidden": {"type": "boolean"}}}),
                "responses": {"200": json_response(PERSON, "the person"),
                              **errors(400, 404, 409, 415)}}},
    "/api/people/{id}/merge": {"post": {
        "summary": "Merge this person into another", "parameters": [PERSON_ID],
        "requestBody": json_body({"type": "object", "required": ["into"], "properties": {
            "into": {"type": "string", "pattern": "^[0-9a-f]{12}$"}}}),
        "responses": {"200": json_response(PERSON, "the person merged into"),
                      **errors(400, 404, 409, 415)}}},
    "/api/faces/{id}": {"put": {
        "summary": "Move a face to a person (its id), to the person of a name (a new one "
                   "if nobody has it; a face of an unnamed person names that person), out "
                   "of its person (null: never put back by a grouping), or hide it",
        "parameters": [FACE_ID],
        "requestBody": json_body({
            "type": "object", "anyOf": [{"required": ["person"]}, {"required": ["name"]},
                                        {"required": ["hidden"]}],
            "not": {"required": ["person", "name"]},
            "properties": {"person": {"type": "string", "nullable": True,
                                      "pattern": "^[0-9a-f]{12}$"},
                           "name": {**PERSON_NAME, "nullable": False,
                                    "pattern": f"^[^{NOT_IN_NAMES}]*[^{NOT_IN_NAMES}\\s]"
                                               f"[^{NOT_IN_NAMES}]*$"},
                           "hidden": {"type": "boolean"}}}),
        "responses": {"200": json_response(FACE, "the face"),
                      **errors(400, 404, 409, 415)}}},
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




def desk_call(func: Any, *args: Any) -> Any:
    try:
        return func(*args)
    except NoSuchPerson as exc:
        raise NotFound(str(exc.args[0])) from None
    except NameTaken as exc:  # the other person's id, for the panel to offer a merge
        raise Conflict(str(exc), person=exc.person) from None
    except NothingToUndo as exc:
        raise Conflict(str(exc)) from None
    except ValueError as exc:  # the people as they are now refuse it (a merge into itself)
        raise Conflict(str(exc)) from None


def person_id(request: web.Request) -> str:
    return request.match_info["id"]  # the route's pattern: 12 hex digits


def face_id(request: web.Request) -> str:
    raw = request.match_info["id"]
    head, _, tail = raw.partition("-")
    if len(head) != 64 or not tail.isdigit() or len(tail) > 5 or any(
            c not in "0123456789abcdef" for c in head):
        raise NotFound("no such face")
    return raw


def parse_name(body: Any) -> str | None:
    if not isinstance(body, dict) or "name" not in body:
        raise BadRequest('send JSON like {"name": "Ana"}')
    name = body["name"]
    if name is not None and not isinstance(name, str):
        raise BadRequest(f"name must be text or null, got {json.dumps(name)}")
    if name is None or not name.strip():
        return None  # no name: the person is unnamed again
    if (problem := name_problem(name.strip(), "person")) is not None:
        raise BadRequest(problem)
    return name


async def list_people(request: web.Request) -> web.Response:
    desk = feature_of(request, "people").desk
    flag = request.query.get("hidden", "0")
    if flag not in ("0", "1"):
        return json_error(400, "hidden is 0 or 1")
    people = await run_blocking(desk.listing, flag == "1")
    summary = {**desk.counts(),
               "last_correction": feature_of(request, "people").corrections.last()}
    return web.json_response({"people": people, "summary": summary})


async def get_person(request: web.Request) -> web.Response:
    desk = feature_of(request, "people").desk
    pid = person_id(request)
    return web.json_response(await run_blocking(desk_call, desk.person, pid))


async def put_person(request: web.Request) -> web.Response:
    desk = feature_of(request, "people").desk
    corrections = feature_of(request, "people").corrections
    pid = person_id(request)

    async def work() -> Any:
        body = await read_json(request, '{"name": "Ana"} or {"hidden": true}')
        if not isinstance(body, dict) or not ({"name", "hidden"} & set(body)):
            raise BadRequest('send JSON like {"name": "Ana"} or {"hidden": true}')
        if "hidden" in body and not isinstance(body["hidden"], bool):
            raise BadRequest("hidden must be true or false")
        name = parse_name(body) if "name" in body else None
        if "name" in body:
            await run_writing(desk_call, corrections.rename, pid, name)
        if "hidden" in body:
            await run_writing(desk_call, corrections.hide, pid, body["hidden"])
        return await run_blocking(desk_call, desk.person, pid)

    return await handle_errors(request, work())


async def merge_person(request: web.Request) -> web.Response:
    feature = feature_of(request, "people")
    pid = person_id(request)

    async def work() -> Any:
        body = await read_json(request, '{"into": "PERSON_ID"}')
        into = body.get("into") if isinstance(body, dict) else None
        if not isinstance(into, str) or not PERSON_ID_RE.fullmatch(into):
            raise BadRequest('send JSON like {"into": "PERSON_ID"}')
        await run_writing(desk_call, feature.corrections.merge, pid, into)
        return await run_blocking(desk_call, feature.desk.person, into)

    return await handle_errors(request, work())


async def new_person(request: web.Request) -> web.Response:
    feature = feature_of(request, "people")

    async def work() -> Any:
        body = await read_json(request, '{"name": "Ana", "faces": ["FACE_ID"]}')
        faces = body.get("faces") if isinstance(body, dict) else None
        if not isinstance(faces, list) or not faces or len(faces) > 1000 or not all(
                isinstance(f, str) and len(f) < 80 for f in faces):
            raise BadRequest('send JSON like {"name": "Ana", "faces": ["FACE_ID"]}')
        pid = await run_writing(desk_call, feature.corrections.new_person, parse_name(body),
                                list(dict.fromkeys(faces)))
        return await run_blocking(desk_call, feature.desk.person, pid)

    return await handle_errors(request, work())


async def put_face(request: web.Request) -> web.Response:
    feature = feature_of(request, "people")
    fid = face_id(request)

    async def work() -> Any:
        body = await read_json(request, '{"person": "PERSON_ID"}, {"name": "Ana"}, '
                                        '{"person": null} or {"hidden": true}')
        if not isinstance(body, dict) or not ({"person", "hidden", "name"} & set(body)):
            raise BadRequest('send JSON like {"person": "PERSON_ID"}, {"name": "Ana"}, '
                             '{"person": null} or {"hidden": true}')
        if "person" in body and "name" in body:
            raise BadRequest("send a person's id or a name, not both")
        person = body.get("person")
        if "person" in body and person is not None and (
                not isinstance(person, str) or not PERSON_ID_RE.fullmatch(person)):
            raise BadRequest("person must be a person's id or null")
        if "name" in body and parse_name(body) is None:
            raise BadRequest("name must be a name: to take a face out of its person, send "
                             '{"person": null}')
        if "hidden" in body and not isinstance(body["hidden"], bool):
            raise BadRequest("hidden must be true or false")
        change = {k: body[k] for k in ("person", "hidden", "name") if k in body}
        await run_writing(desk_call, feature.corrections.fix_face, fid, change)
        return await run_blocking(desk_call, feature.desk.face, fid)

    return await handle_errors(request, work())


async def image_faces(request: web.Request) -> web.Response:
    desk = feature_of(request, "people").desk
    people = feature_of(request, "people").people
    content = image_id(request)
    faces = await run_blocking(desk.faces_of, content)
    looked = content in people.looked_at
    return web.json_response({"faces": faces, "looked": looked})


async def get_face_crop(request: web.Request) -> web.Response:
    feature = feature_of(request, "people")
    fid = face_id(request)
    if fid not in feature.people.faces:
        return json_error(404, "no such face")
    try:
        data = await run_blocking(feature.crops.crop, fid)
    except LookupError as exc:  # gone meanwhile, or its photo cannot be read: said why
        raise NotFound(str(exc.args[0])) from None
    return web.Response(body=data, content_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=3600"})


async def undo(request: web.Request) -> web.Response:
    feature = feature_of(request, "people")

    async def work() -> Any:
        what = await run_writing(desk_call, feature.corrections.undo)
        return {"undone": what, "last_correction": feature.corrections.last()}

    return await handle_errors(request, work())


async def regroup(request: web.Request) -> web.Response:
    people = feature_of(request, "people").people
    started = people.regroup_in_background()
    if not started:
        return json_error(409, "a grouping is already running")
    return web.json_response({"state": "running"}, status=202)


def routes() -> list[Route]:
    person = "/api/people/{id:[0-9a-f]{12}}"  # the pattern keeps regroup and undo apart
    handlers = [("GET", "/api/people", list_people), ("POST", "/api/people", new_person),
                ("POST", "/api/people/regroup", regroup),
                ("POST", "/api/people/undo", undo), ("GET", person, get_person),
                ("PUT", person, put_person), ("POST", person + "/merge", merge_person),
                ("PUT", "/api/faces/{id}", put_face),
                ("GET", "/api/faces/{id}/crop", get_face_crop),
                ("GET", "/api/images/{id}/faces", image_faces)]
    return [Route(method, path, handler,
                  PEOPLE_PATHS[path.replace("{id:[0-9a-f]{12}}", "{id}")][method.lower()])
            for method, path, handler in handlers]
