"""Files over HTTP: trash, move, put back, reveal. The work is the core's (app/files.py);
this says it with the right status: 400 malformed, 403 outside the library, 404 not a
file of the library, 409 refused by the library or the disk as they are."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from anagnorisisd.app import files
from anagnorisisd.app.presenters import servable_path
from anagnorisisd.http.common import (
    LIBRARY_KEY,
    content_id,
    handle_errors,
    json_error,
    run_blocking,
)
from anagnorisisd.http.errors import BadRequest, Conflict, Forbidden, NotFound, read_json

T = TypeVar("T")
STATUS = ((files.Malformed, BadRequest), (files.Unknown, NotFound), (files.Outside, Forbidden),
          (files.Refused, Conflict))


async def answered(work: Callable[..., T], *args: Any) -> T:
    """Run the core's work on a thread; its refusals become HTTP problems."""
    try:
        return await run_blocking(work, *args)
    except (files.Malformed, files.Unknown, files.Outside, files.Refused) as exc:
        problem = next(http for core, http in STATUS if isinstance(exc, core))
        raise problem(str(exc)) from None


async def json_body(request: web.Request) -> Any:
    return await read_json(request, '{"files": [{"id": "...", "path": "..."}]}')


async def post_trash(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]

    async def work() -> dict[str, Any]:
        body = await json_body(request)
        pairs = await answered(files.checked_pairs, library, body)
        generation = body.get("generation")
        if generation is not None and (isinstance(generation, bool) or
                                       not isinstance(generation, int)):
            raise BadRequest("generation must be the integer a cull plan gave")
        return await answered(files.trash_as_planned, library, pairs, generation)

    return await handle_errors(request, work())


async def post_move(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]

    async def work() -> dict[str, Any]:
        body = await json_body(request)
        paths = await answered(files.checked_files, library, body)
        return await answered(files.move, library, paths, body.get("destination"))

    return await handle_errors(request, work())


async def post_restore(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]

    async def work() -> dict[str, Any]:
        body = await read_json(request, '{"paths": ["/abs/path.jpg"]}')
        return await answered(files.restore_files, library, body)

    return await handle_errors(request, work())


async def post_reveal(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]
    content = content_id(request)
    path = await run_blocking(servable_path, library, content)
    if path is None:
        return json_error(404, "no such image")
    command = files.reveal_command(path)
    if command is None:
        return web.json_response({"opened": False, "path": path, "message":
                                  "no desktop file manager reachable from the daemon"})
    await run_blocking(lambda: subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                                stderr=subprocess.DEVNULL))
    return web.json_response({"opened": True, "path": path})


def register(app: web.Application) -> None:
    app.router.add_post("/api/files/trash", post_trash)
    app.router.add_post("/api/files/move", post_move)
    app.router.add_post("/api/files/restore", post_restore)
    app.router.add_post("/api/images/{id}/reveal", post_reveal)
