"""What every resource module shares: the app's keys, the thread-pool hop, the common
parameter readers. Resource modules import this, never the app factory."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiohttp import web

from anagnorisisd.app.library import Library
from anagnorisisd.foreground import FOREGROUND
from anagnorisisd.http.errors import BadRequest, NotFound
from anagnorisisd.ml.protocol import RemoteError, Stopped
from anagnorisisd.search.query import QueryError
from anagnorisisd.search.service import NoSuchImage, SearchUnavailable

LIBRARY_KEY = web.AppKey("library", Library)
MODEL_POOL_KEY = web.AppKey("model_pool", ThreadPoolExecutor)
"""Requests that need the model (a text query, an image dropped on the search bar) run on
threads of their own: when the model is slow or its remote workers are down, they wait
there, never on the threads that serve status, listings, ratings and thumbnails."""
MODEL_THREADS = 4
MODEL_WAITING_MAX = 32


T = TypeVar("T")


MAX_PER_PAGE = 500


def json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


async def run_blocking(func: Callable[..., T], *args: Any) -> T:
    """A request's work on the shared threads; the library's passes step aside meanwhile
    (foreground.py), as for run_writing and run_with_model."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, functools.partial(FOREGROUND.run, func, *args))


WRITES = ThreadPoolExecutor(2, thread_name_prefix="http-write")
"""Requests that change the store (a rating, a decision, an album, a name) run on threads of
their own: the store takes one write at a time, and while a long one holds it (a scan's
batch, a first start's bookkeeping) the writes queued behind it wait here. On the shared
threads eight waiting ratings were every thread there, and listings, thumbnails and status
waited behind them."""


async def run_writing(func: Callable[..., T], *args: Any) -> T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(WRITES, functools.partial(FOREGROUND.run, func, *args))


_model_waiting = 0


async def run_with_model(request: web.Request, func: Callable[..., T], *args: Any) -> T:
    """Run work that needs the model on the model's own threads, and answer within the
    model's time limit ([model] remote_timeout_s, plus a margin) whatever happens there."""
    global _model_waiting
    library = request.app[LIBRARY_KEY]
    if _model_waiting >= MODEL_WAITING_MAX:
        raise SearchUnavailable(f"{_model_waiting} queries already wait for the model; "
                                "try again in a moment")
    limit = float(library.config.model.remote_timeout_s) + 5.0
    loop = asyncio.get_running_loop()
    _model_waiting += 1
    try:
        return await asyncio.wait_for(loop.run_in_executor(
            request.app[MODEL_POOL_KEY], functools.partial(FOREGROUND.run, func, *args)),
            timeout=limit)
    except TimeoutError:
        raise SearchUnavailable(f"the model did not answer within {limit:g} s") from None
    finally:
        _model_waiting -= 1


def feature_of(request: web.Request, name: str) -> Any:
    """The running feature of that name (a feature's own routes find themselves so)."""
    feature = request.app[LIBRARY_KEY].features.get(name)
    if feature is None:  # its routes are only there while it runs
        raise web.HTTPNotFound(text='{"error": "no such feature"}', content_type="application/json")
    return feature


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


def library_ids(catalog: Any, raw: list[Any], missing: type[Exception] = NotFound
                ) -> list[bytes]:
    """Image ids from a request body, each checked for shape (400) and for being in the
    library (`missing`: 404, or 400 where a 404 would say the path's resource is gone)."""
    contents = []
    for item in raw:
        if not isinstance(item, str) or len(item) != 64 or any(
                c not in "0123456789abcdef" for c in item):
            raise BadRequest("an image id is 64 hex digits")
        content = bytes.fromhex(item)
        if content not in catalog:
            raise missing(f"no image {item} in the library")
        contents.append(content)
    return contents


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


async def handle_errors(request: web.Request, work: Any) -> web.Response:
    """Run a handler's work; BadRequest and friends are answered by the error middleware."""
    try:
        return web.json_response(await work)
    except QueryError as exc:
        return web.json_response({"error": str(exc), "token": exc.token,
                                  "position": exc.position}, status=400)
    except SearchUnavailable as exc:
        return json_error(503, str(exc))
    except NoSuchImage as exc:
        return json_error(404, str(exc))
    except (RemoteError, Stopped) as exc:  # an upload's vector from workers that did not answer
        return json_error(503, f"semantic search is unavailable: {exc or 'stopping'}")
