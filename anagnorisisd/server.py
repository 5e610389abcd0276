"""The HTTP face: an aiohttp app factory over a Library.

Handlers never do disk or CPU work on the event loop themselves; anything
that touches LMDB, the filesystem or the observer goes through
``run_blocking`` into the default thread pool. Every request first passes the
guard (guard.py: Host, origin, token) and every error leaves as JSON with a
reason (http_errors.py).
"""

from __future__ import annotations

import asyncio
import csv
import functools
import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from anagnorisisd.daemon import Library, LibraryPathError
from anagnorisisd.guard import guard_middleware
from anagnorisisd.http_errors import BadRequest, NotFound, error_middleware, read_json

LIBRARY_KEY = web.AppKey("library", Library)
UI_FILES_KEY = web.AppKey("ui_files", dict)
WEB_ROOT = Path(__file__).resolve().parent.parent / "web_ui"
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def run_blocking(func: Callable[..., T], *args: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(func, *args))


async def get_status(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]
    return web.json_response(await run_blocking(library.status))


async def put_library(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]
    example = '{"paths": ["/home/me/Pictures"]}'
    body = await read_json(request, example)
    if not isinstance(body, dict) or "paths" not in body:
        raise BadRequest(f"send JSON like {example}")
    try:
        roots = await run_blocking(library.set_library, body["paths"])
    except LibraryPathError as exc:
        raise BadRequest(str(exc)) from None
    return web.json_response({"paths": roots})


async def get_library(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]
    return web.json_response({"paths": library.roots, "source": library.roots_source})


async def get_failures(request: web.Request) -> web.Response:
    """Every failed file with the stage that failed and why; ?format=csv to download."""
    library = request.app[LIBRARY_KEY]
    wanted = request.query.get("format", "json")
    if wanted not in ("json", "csv"):
        return json_error(400, "format must be json or csv")
    items = await run_blocking(library.failures)
    if wanted == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["path", "stage", "reason"])
        writer.writerows([i["path"], i["stage"], i["reason"]] for i in items)
        # Names that are not UTF-8 go out as the bytes they are on disk.
        return web.Response(body=buf.getvalue().encode("utf-8", "surrogateescape"),
                            content_type="text/csv", charset="utf-8", headers={
            "Content-Disposition": 'attachment; filename="anagnorisisd-failures.csv"'})
    return web.json_response({"total": len(items), "items": items})


async def index_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(WEB_ROOT / "index.html")


def create_app(library: Library) -> web.Application:
    server = library.config.server
    app = web.Application(
        middlewares=[error_middleware, guard_middleware(server.token, server.allowed_hosts)],
        client_max_size=server.max_body_mb << 20,
    )
    app[LIBRARY_KEY] = library
    app[UI_FILES_KEY] = panel_files()
    app.router.add_get("/api/status", get_status)
    app.router.add_get("/api/library", get_library)
    app.router.add_put("/api/library", put_library)
    app.router.add_get("/api/failures", get_failures)
    from anagnorisisd import api_files, api_images, api_ratings, openapi

    api_images.register(app)
    api_ratings.register(app)
    api_files.register(app)
    app.router.add_get("/api/openapi.json", openapi.handler)
    app.router.add_get("/", index_page)
    app.router.add_get("/train", index_page)
    app.router.add_get("/status", index_page)
    app.router.add_get("/ui/{name}", ui_file)
    return app


def panel_files() -> dict[str, Path]:
    """The panel's files by name: only these are served under /ui/, so no request path is
    ever joined onto a folder."""
    if not WEB_ROOT.is_dir():
        return {}
    return {p.name: p for p in WEB_ROOT.iterdir() if p.is_file() and not p.name.startswith(".")}


async def ui_file(request: web.Request) -> web.StreamResponse:
    path = request.app[UI_FILES_KEY].get(request.match_info["name"])
    if path is None:
        raise NotFound("no such file in the panel")
    return web.FileResponse(path, headers={"Cache-Control": "no-cache",
                                           "X-Content-Type-Options": "nosniff"})
