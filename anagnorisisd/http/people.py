"""People and faces over HTTP: list, look at, name, merge, hide, move a face, crop a face.

Reads come from memory (app: PeopleDesk); edits are written to the store before they
are answered, on the bounded HTTP pool, never on the event loop. A face crop is cut from
the photo through the bounded decode path and kept in a small in-memory LRU.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from typing import Any

from aiohttp import web

from anagnorisisd.app.library import Library
from anagnorisisd.http.common import LIBRARY_KEY, handle_errors, image_id, json_error, run_blocking
from anagnorisisd.http.errors import BadRequest, Conflict, NotFound, read_json
from anagnorisisd.imaging.decoding import failure_reason
from anagnorisisd.imaging.face_crop import face_crop
from anagnorisisd.people.service import NoSuchPerson
from anagnorisisd.strings import name_problem

PERSON_ID_RE = re.compile(r"[0-9a-f]{12}")
CROP_CACHE = 2000
"""Face crops kept in memory (about 8 KB each)."""


def desk_call(func: Any, *args: Any) -> Any:
    try:
        return func(*args)
    except NoSuchPerson as exc:
        raise NotFound(str(exc.args[0])) from None
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
    library: Library = request.app[LIBRARY_KEY]
    flag = request.query.get("hidden", "0")
    if flag not in ("0", "1"):
        return json_error(400, "hidden is 0 or 1")
    people = await run_blocking(library.desk.listing, flag == "1")
    return web.json_response({"people": people, "summary": library.desk.counts()})


async def get_person(request: web.Request) -> web.Response:
    library: Library = request.app[LIBRARY_KEY]
    pid = person_id(request)
    return web.json_response(await run_blocking(desk_call, library.desk.person, pid))


async def put_person(request: web.Request) -> web.Response:
    library: Library = request.app[LIBRARY_KEY]
    pid = person_id(request)

    async def work() -> Any:
        body = await read_json(request, '{"name": "Ana"} or {"hidden": true}')
        if not isinstance(body, dict) or not ({"name", "hidden"} & set(body)):
            raise BadRequest('send JSON like {"name": "Ana"} or {"hidden": true}')
        if "hidden" in body and not isinstance(body["hidden"], bool):
            raise BadRequest("hidden must be true or false")
        name = parse_name(body) if "name" in body else None
        if "name" in body:
            await run_blocking(desk_call, library.desk.rename, pid, name)
        if "hidden" in body:
            await run_blocking(desk_call, library.desk.hide, pid, body["hidden"])
        return await run_blocking(desk_call, library.desk.person, pid)

    return await handle_errors(request, work())


async def merge_person(request: web.Request) -> web.Response:
    library: Library = request.app[LIBRARY_KEY]
    pid = person_id(request)

    async def work() -> Any:
        body = await read_json(request, '{"into": "PERSON_ID"}')
        into = body.get("into") if isinstance(body, dict) else None
        if not isinstance(into, str) or not PERSON_ID_RE.fullmatch(into):
            raise BadRequest('send JSON like {"into": "PERSON_ID"}')
        return await run_blocking(desk_call, library.desk.merge, pid, into)

    return await handle_errors(request, work())


async def new_person(request: web.Request) -> web.Response:
    library: Library = request.app[LIBRARY_KEY]

    async def work() -> Any:
        body = await read_json(request, '{"name": "Ana", "faces": ["FACE_ID"]}')
        faces = body.get("faces") if isinstance(body, dict) else None
        if not isinstance(faces, list) or not faces or len(faces) > 1000 or not all(
                isinstance(f, str) and len(f) < 80 for f in faces):
            raise BadRequest('send JSON like {"name": "Ana", "faces": ["FACE_ID"]}')
        return await run_blocking(desk_call, library.desk.new_person, parse_name(body), faces)

    return await handle_errors(request, work())


async def put_face(request: web.Request) -> web.Response:
    library: Library = request.app[LIBRARY_KEY]
    fid = face_id(request)

    async def work() -> Any:
        body = await read_json(request, '{"person": "PERSON_ID"} (or null, or {"hidden": true})')
        if not isinstance(body, dict) or not ({"person", "hidden"} & set(body)):
            raise BadRequest('send JSON like {"person": "PERSON_ID"}, {"person": null} or '
                             '{"hidden": true}')
        person = body.get("person")
        if "person" in body and person is not None and (
                not isinstance(person, str) or not PERSON_ID_RE.fullmatch(person)):
            raise BadRequest("person must be a person's id or null")
        if "hidden" in body and not isinstance(body["hidden"], bool):
            raise BadRequest("hidden must be true or false")
        change = {k: body[k] for k in ("person", "hidden") if k in body}
        return await run_blocking(desk_call, library.desk.fix_face, fid, change)

    return await handle_errors(request, work())


async def image_faces(request: web.Request) -> web.Response:
    library: Library = request.app[LIBRARY_KEY]
    content = image_id(request)
    faces = await run_blocking(library.desk.faces_of, content)
    looked = content in library.people.looked_at
    return web.json_response({"faces": faces, "looked": looked})


class CropCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[str, bytes] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self.lock:
            data = self.items.get(key)
            if data is not None:
                self.items.move_to_end(key)
            return data

    def put(self, key: str, data: bytes) -> None:
        with self.lock:
            self.items[key] = data
            while len(self.items) > self.size:
                self.items.popitem(last=False)


CROPS = CropCache(CROP_CACHE)


def render_crop(library: Library, fid: str) -> bytes:
    face = library.people.faces.get(fid)
    if face is None:
        raise NotFound("no such face")
    cached = CROPS.get(fid)
    if cached is not None:
        return cached
    meta = library.store.get_result(face.content, library.faces_stage or "faces") or {}
    full = (int(meta.get("width") or 0), int(meta.get("height") or 0))
    for path in library.store.paths_for(face.content):
        try:
            data = face_crop(path, face.box, full)
        except FileNotFoundError:
            continue
        except Exception as exc:
            raise NotFound(f"the face's photo cannot be read: {failure_reason(exc)}") from None
        CROPS.put(fid, data)
        return data
    raise NotFound("the face's photo is gone")


async def get_face_crop(request: web.Request) -> web.Response:
    library: Library = request.app[LIBRARY_KEY]
    fid = face_id(request)
    if fid not in library.people.faces:
        return json_error(404, "no such face")
    data = await run_blocking(render_crop, library, fid)
    return web.Response(body=data, content_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=3600"})


async def regroup(request: web.Request) -> web.Response:
    library: Library = request.app[LIBRARY_KEY]
    started = library.people.regroup_in_background()
    if not started:
        return json_error(409, "a grouping is already running")
    return web.json_response({"state": "running"}, status=202)


def register(app: web.Application) -> None:
    app.router.add_get("/api/people", list_people)
    app.router.add_post("/api/people", new_person)
    app.router.add_post("/api/people/regroup", regroup)
    # the id's pattern keeps /api/people/regroup from matching a person
    app.router.add_get("/api/people/{id:[0-9a-f]{12}}", get_person)
    app.router.add_put("/api/people/{id:[0-9a-f]{12}}", put_person)
    app.router.add_post("/api/people/{id:[0-9a-f]{12}}/merge", merge_person)
    app.router.add_put("/api/faces/{id}", put_face)
    app.router.add_get("/api/faces/{id}/crop", get_face_crop)
    app.router.add_get("/api/images/{id}/faces", image_faces)


__all__ = ["register"]
