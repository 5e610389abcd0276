"""The images API: search, details, files, thumbnails, similar, by-image and duplicates.

Every image is addressed by its id, the hex of its content hash. Files are
only ever served from paths the store holds for that id; nothing in a request
is used as a path.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from aiohttp import web
from PIL import UnidentifiedImageError

from anagnorisisd.daemon import Library
from anagnorisisd.decoding import ImageTooLarge, decoded
from anagnorisisd.http_errors import BadRequest, TooLarge
from anagnorisisd.imaging import to_rgb
from anagnorisisd.safe_io import inside, real_roots
from anagnorisisd.search.query import Query, QueryError, parse
from anagnorisisd.search.service import Page, SearchUnavailable
from anagnorisisd.server import LIBRARY_KEY, json_error, run_blocking

MAX_PER_PAGE = 500
MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif",
        "bmp": "image/bmp", "tiff": "image/tiff"}


def content_id(request: web.Request) -> bytes:
    raw = request.match_info["id"]
    if len(raw) != 64 or any(c not in "0123456789abcdef" for c in raw):
        raise web.HTTPNotFound(text='{"error": "no such image"}', content_type="application/json")
    return bytes.fromhex(raw)


def one_param(request: web.Request, name: str) -> str | None:
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise BadRequest(f"give {name} once")
    return values[0] if values else None


def require_image(library: Library, content: bytes) -> bytes:
    """404 unless the content is an image of the library now."""
    if content not in library.search.catalog:
        raise web.HTTPNotFound(text='{"error": "no such image"}', content_type="application/json")
    return content


def image_id(request: web.Request) -> bytes:
    """The id in the URL, checked for shape and for being in the library."""
    return require_image(request.app[LIBRARY_KEY], content_id(request))


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = one_param(request, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


def paging(request: web.Request) -> tuple[int, int, int | None, str | None]:
    page = int_param(request, "page", 1, 1, 1_000_000)
    per_page = int_param(request, "per_page", 50, 1, MAX_PER_PAGE)
    seed = int_param(request, "seed", 0, 0, 2**31) if "seed" in request.query else None
    order = one_param(request, "order")
    if order not in (None, "asc", "desc"):
        raise BadRequest("order must be asc or desc")
    return page, per_page, seed, order


def describe(library: Library, content: bytes, score: float | None = None) -> dict[str, Any]:
    entry = library.search.catalog.get(content)
    paths = sorted(library.store.paths_for(content))
    current = library.trainer.current.version if library.trainer.current else None
    model_version = entry.model_version if entry else None
    return {
        "id": content.hex(),
        "path": paths[0] if paths else None,
        "paths": paths,
        "width": entry.width if entry else None,
        "height": entry.height if entry else None,
        "file_size": entry.file_size if entry else None,
        "format": entry.format if entry else None,
        "user_rating": entry.user_rating if entry else None,
        "model_rating": entry.model_rating if entry else None,
        "model_version": model_version,
        "model_rating_stale": bool(model_version and model_version != current),
        "score": score,
    }


def page_json(library: Library, result: Page, page: int, per_page: int) -> dict[str, Any]:
    return {"total": result.total, "page": page, "per_page": per_page,
            "items": [describe(library, h.content, h.score) for h in result.hits]}


def run_query(library: Library, query: Query, page: int, per_page: int,
              seed: int | None) -> dict[str, Any]:
    result = library.search.search(query, page, per_page, seed)
    return page_json(library, result, page, per_page)


async def handle_errors(request: web.Request, work: Any) -> web.Response:
    """Run a handler's work; BadRequest and friends are answered by the error middleware."""
    try:
        return web.json_response(await work)
    except QueryError as exc:
        return web.json_response({"error": str(exc), "token": exc.token,
                                  "position": exc.position}, status=400)
    except SearchUnavailable as exc:
        return json_error(503, str(exc))


async def list_images(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]

    async def work() -> dict[str, Any]:
        page, per_page, seed, order = paging(request)
        query = parse(one_param(request, "q") or "")
        if order:
            query.order = order
        return await run_blocking(run_query, library, query, page, per_page, seed)

    return await handle_errors(request, work())


async def get_image(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]
    content = image_id(request)
    details = await run_blocking(describe, library, content)
    record = await run_blocking(library.store.content_record, content)
    meta = record.get("meta", {}).get("output", {})
    details["taken_at"] = meta.get("taken_at")
    details["frames"] = meta.get("frames")
    details["stages"] = {name: value.get("mark") for name, value in record.items()}
    return web.json_response(details)


def servable_path(library: Library, content: bytes) -> str | None:
    """A file of this image that really lies in the library now, links resolved: a symlink
    or a folder swapped in since indexing cannot make the daemon serve what is outside."""
    roots = real_roots(library.roots)
    for path in sorted(library.store.paths_for(content)):
        real = os.path.realpath(path)
        if inside(real, roots) and os.path.isfile(real):
            return real
    return None


async def get_file(request: web.Request) -> web.StreamResponse:
    library = request.app[LIBRARY_KEY]
    content = content_id(request)
    path = await run_blocking(servable_path, library, content)
    if path is None:
        return json_error(404, "no such image")
    entry = library.search.catalog.get(content)
    mime = MIME.get(entry.format if entry else "", "application/octet-stream")
    return web.FileResponse(path, headers={"Content-Type": mime,
                                           "Cache-Control": "private, max-age=3600",
                                           "X-Content-Type-Options": "nosniff"})


async def get_thumbnail(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]
    content = content_id(request)
    thumb = await run_blocking(library.store.get_result, content, "thumbnail")
    if not thumb or content not in library.search.catalog:
        return json_error(404, "no thumbnail for this image (yet)")
    etag = f'"{content.hex()[:32]}"'
    if request.headers.get("If-None-Match") == etag:
        return web.Response(status=304)
    return web.Response(body=thumb["data"], content_type=thumb["mime"], headers={
        "Cache-Control": "private, max-age=31536000, immutable", "ETag": etag})


async def similar_images(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]
    content = image_id(request)

    async def work() -> dict[str, Any]:
        page, per_page, seed, order = paging(request)
        query = Query(sort="similar", similar_to=content.hex(), order=order)
        return await run_blocking(run_query, library, query, page, per_page, seed)

    return await handle_errors(request, work())


def embed_upload(model: Any, data: bytes) -> Any:
    """The model's vector for uploaded image bytes, through the one bounded decode path."""
    try:
        with decoded(data, model.preprocess.size) as img:
            tensor = model.preprocess(to_rgb(img))
    except ImageTooLarge as exc:
        raise TooLarge(f"the image is too large: {exc}") from None
    except UnidentifiedImageError:
        raise BadRequest("the body is not an image Pillow can read") from None
    except Exception as exc:  # a malformed image is the sender's problem, said with its reason
        raise BadRequest(f"the image cannot be decoded: {type(exc).__name__}: {exc}") from None
    return model.embed_images(tensor[np.newaxis])[0]


def search_by_image(library: Library, data: bytes, page: int, per_page: int) -> dict[str, Any]:
    model = library.search.require_model()
    vector = embed_upload(model, data)
    hits = library.search.nearest(vector, page * per_page)
    start = (page - 1) * per_page
    return {"total": len(hits), "page": page, "per_page": per_page,
            "items": [describe(library, h.content, h.score) for h in hits[start:start + per_page]]}


async def by_image(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]

    async def work() -> dict[str, Any]:
        page, per_page, _, _ = paging(request)
        if request.content_type.startswith("multipart/"):
            try:
                reader = await request.multipart()
                part = await reader.next()
                data = await part.read() if part is not None else b""  # type: ignore[union-attr]
            except (ValueError, AssertionError, RuntimeError) as exc:
                raise BadRequest(f"unreadable multipart body: {exc}") from None
        else:
            data = await request.read()
        if not data:
            raise BadRequest("send the image's bytes as the request body")
        return await run_blocking(search_by_image, library, bytes(data), page, per_page)

    return await handle_errors(request, work())


def duplicate_groups(library: Library, threshold: float) -> dict[str, Any]:
    groups = []
    for contents in library.search.duplicate_groups(threshold):
        files: list[dict[str, Any]] = []
        for content in contents:
            entry = library.search.catalog.get(content)
            for path in sorted(library.store.paths_for(content)):
                record = library.store.get_file(path)
                files.append({
                    "id": content.hex(), "path": path,
                    "width": entry.width if entry else None,
                    "height": entry.height if entry else None,
                    "file_size": entry.file_size if entry else None,
                    "mtime_ns": record.mtime_ns if record else None,
                })
        if len(files) < 2:
            continue
        keeper = min(files, key=lambda f: (-(f["width"] or 0) * (f["height"] or 0),
                                           -(f["file_size"] or 0), f["mtime_ns"] or 0, f["path"]))
        groups.append({"kind": "exact" if len(contents) == 1 else "near", "files": files,
                       "keeper": {"id": keeper["id"], "path": keeper["path"]}})
    return {"threshold": threshold, "total": len(groups), "groups": groups}


async def duplicates(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]

    async def work() -> dict[str, Any]:
        raw = one_param(request, "threshold")
        threshold = library.config.index.duplicate_threshold
        if raw is not None:
            try:
                threshold = float(raw)
            except ValueError:
                raise BadRequest(f"threshold must be a number, got {raw!r}") from None
            if not 0.0 < threshold <= 1.0:
                raise BadRequest("threshold must be above 0 and at most 1")
        return await run_blocking(duplicate_groups, library, threshold)

    return await handle_errors(request, work())


def register(app: web.Application) -> None:
    app.router.add_get("/api/images", list_images)
    app.router.add_get("/api/images/{id}", get_image)
    app.router.add_get("/api/images/{id}/file", get_file)
    app.router.add_get("/api/images/{id}/thumbnail", get_thumbnail)
    app.router.add_get("/api/images/{id}/similar", similar_images)
    app.router.add_post("/api/search/by-image", by_image)
    app.router.add_get("/api/duplicates", duplicates)
