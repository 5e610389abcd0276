"""The HTTP face: an aiohttp app factory over a Library.

Handlers never do disk or CPU work on the event loop themselves; anything
that touches LMDB writes, the filesystem tree or the observer goes through
``run_blocking`` into the default thread pool.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import hmac
import io
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from anagnorisisd.daemon import Library, LibraryPathError

LIBRARY_KEY = web.AppKey("library", Library)
WEB_ROOT = Path(__file__).resolve().parent.parent / "web_ui"
T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def run_blocking(func: Callable[..., T], *args: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(func, *args))


def token_middleware(token: str) -> Any:
    """With a token configured, every /api call must carry it (Bearer header or ?token=)."""

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if token and request.path.startswith("/api/"):
            header = request.headers.get("Authorization", "")
            given = header[7:] if header.startswith("Bearer ") else request.query.get("token", "")
            if not hmac.compare_digest(given.encode(), token.encode()):
                return json_error(401, "missing or wrong token")
        return await handler(request)

    return check


async def get_status(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]
    return web.json_response(await run_blocking(library.status))


async def put_library(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return json_error(400, "body must be JSON like {\"paths\": [\"/photos\"]}")
    if not isinstance(body, dict) or "paths" not in body:
        return json_error(400, "body must be JSON like {\"paths\": [\"/photos\"]}")
    try:
        roots = await run_blocking(library.set_library, body["paths"])
    except LibraryPathError as exc:
        return json_error(400, str(exc))
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
        return web.Response(text=buf.getvalue(), content_type="text/csv", headers={
            "Content-Disposition": 'attachment; filename="anagnorisisd-failures.csv"'})
    return web.json_response({"total": len(items), "items": items})


async def index_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(WEB_ROOT / "index.html")


def create_app(library: Library) -> web.Application:
    app = web.Application(middlewares=[token_middleware(library.config.server.token)])
    app[LIBRARY_KEY] = library
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
    if WEB_ROOT.is_dir():
        app.router.add_static("/ui/", WEB_ROOT)
    return app
