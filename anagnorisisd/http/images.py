"""The images API: search, details, files, thumbnails, previews, similar and by-image.

Every image is addressed by its id, the hex of its content hash. Files are
only ever served from paths the store holds for that id; nothing in a request
is used as a path.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from PIL import UnidentifiedImageError

from anagnorisisd.app.library import Library
from anagnorisisd.app.presenters import describe, run_query, servable_path, summarize
from anagnorisisd.http.common import (
    LIBRARY_KEY,
    content_id,
    handle_errors,
    image_id,
    json_error,
    one_param,
    paging,
    run_blocking,
    run_with_model,
)
from anagnorisisd.http.errors import BadRequest, TooLarge, Unprocessable
from anagnorisisd.imaging import rendition
from anagnorisisd.imaging.budget import ImageTooLarge
from anagnorisisd.imaging.convert import to_rgb
from anagnorisisd.imaging.decoding import decoded, failure_reason
from anagnorisisd.search.query import Query

MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif",
        "bmp": "image/bmp", "tiff": "image/tiff", "heif": "image/heif", "avif": "image/avif",
        "jxl": "image/jxl"}


async def list_images(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]

    async def work() -> dict[str, Any]:
        page, per_page, seed, order = paging(request)
        query = library.search.parse(one_param(request, "q") or "")
        if order:
            query.order = order
        if query.text or query.negative:  # the model embeds the words: on its own threads
            return await run_with_model(request, run_query, library, query, page, per_page,
                                        seed)
        return await run_blocking(run_query, library, query, page, per_page, seed)

    return await handle_errors(request, work())


async def get_image(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]
    content = image_id(request)
    details = await run_blocking(describe, library, content)
    record = await run_blocking(library.store.content_record, content)
    meta = record.get(library.assembly.provider("metadata") or "", {}).get("output", {})
    details["taken_at"] = meta.get("taken_at")
    details["frames"] = meta.get("frames")
    details["stages"] = {name: {**(value.get("mark") or {}),
                                "output": summarize(value.get("output"))}
                         for name, value in record.items()}
    return web.json_response(details)


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


async def get_preview(request: web.Request) -> web.StreamResponse:
    """The photo as the browser can show it, at most `size` pixels on its longest side: the
    original when it is a browser format no larger than that, else a cached JPEG."""
    library = request.app[LIBRARY_KEY]
    content = image_id(request)
    try:
        asked = int(one_param(request, "size") or rendition.SIZES[1])
    except (ValueError, BadRequest):
        return json_error(400, f"size must be a number of pixels, at most {rendition.SIZES[-1]}")
    if not 1 <= asked <= 100_000:
        return json_error(400, f"size must be from 1 to 100000 pixels, got {asked}")
    size = rendition.size_for(asked)
    path = await run_blocking(servable_path, library, content)
    entry = library.search.catalog.get(content)
    if path is None or entry is None:
        return json_error(404, "no such image")
    headers = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
    if rendition.shown_as_is(entry.format, entry.width, entry.height, size):
        return web.FileResponse(path, headers={**headers, "Content-Type": MIME[entry.format]})
    try:
        made = await run_blocking(library.previews.get, content, size, path)
    except (OSError, ValueError, UnidentifiedImageError) as exc:
        return json_error(422, "this photo cannot be shown: " + failure_reason(exc))
    return web.FileResponse(made, headers={**headers, "Content-Type": "image/jpeg"})


async def get_thumbnail(request: web.Request) -> web.Response:
    library = request.app[LIBRARY_KEY]
    content = content_id(request)
    stage = library.assembly.provider("thumbnail")
    thumb = await run_blocking(library.store.get_result, content, stage) if stage else None
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
            upright = to_rgb(img)
            upright.load()
    except ImageTooLarge as exc:
        raise TooLarge(f"the image is too large: {exc}") from None
    except UnidentifiedImageError:
        raise Unprocessable("the body is not an image Pillow can read") from None
    except Exception as exc:  # a malformed image is the sender's problem, said with its reason
        raise Unprocessable(f"the image cannot be decoded: {type(exc).__name__}: {exc}") \
            from None
    return model.embed_image(upright)  # the local session, or the workers (within a timeout)


def search_by_image(library: Library, data: bytes, page: int, per_page: int) -> dict[str, Any]:
    model = library.search.require_model()
    vector = embed_upload(model, data)
    hits = library.search.nearest(vector, page * per_page)
    start = (page - 1) * per_page
    shown = hits[start : start + per_page]
    library.search.place_moments(shown, vector)  # a clip: the second of its best scene
    with library.store.snapshot() as reads:
        items = [describe(library, h.content, h.score, reads) | h.extra for h in shown]
    return {"total": len(hits), "page": page, "per_page": per_page, "items": items}


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
        if not data:  # well-formed (no bytes are bytes), but no picture to decode
            raise Unprocessable("an empty body is not an image: send the image's bytes")
        return await run_with_model(request, search_by_image, library, bytes(data), page,
                                    per_page)

    return await handle_errors(request, work())


def register(app: web.Application) -> None:
    app.router.add_get("/api/images", list_images)
    app.router.add_get("/api/images/{id}", get_image)
    app.router.add_get("/api/images/{id}/file", get_file)
    app.router.add_get("/api/images/{id}/thumbnail", get_thumbnail)
    app.router.add_get("/api/images/{id}/preview", get_preview)
    app.router.add_get("/api/images/{id}/similar", similar_images)
    app.router.add_post("/api/search/by-image", by_image)

