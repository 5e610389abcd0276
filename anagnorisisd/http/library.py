"""The library resource: status, the library paths, the failures list, the query
language's words and the features that answer them."""

from __future__ import annotations

import csv
import io

from aiohttp import web

from anagnorisisd.app.library_paths import LibraryPathError
from anagnorisisd.http.common import LIBRARY_KEY, json_error, run_blocking, run_writing
from anagnorisisd.http.errors import BadRequest, read_json


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
        roots = await run_writing(library.set_library, body["paths"])
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


async def get_vocabulary(request: web.Request) -> web.Response:
    """Every query word with its feature and its help line: the panel's autocomplete and
    help read it, so a feature's words show there the moment it is installed."""
    library = request.app[LIBRARY_KEY]
    return web.json_response({"words": library.search.vocabulary.listing()})


async def get_features(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]
    return web.json_response(library.features.summary())


def register(app: web.Application) -> None:
    app.router.add_get("/api/vocabulary", get_vocabulary)
    app.router.add_get("/api/features", get_features)
    app.router.add_get("/api/status", get_status)
    app.router.add_get("/api/library", get_library)
    app.router.add_put("/api/library", put_library)
    app.router.add_get("/api/failures", get_failures)
