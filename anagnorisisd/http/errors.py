"""Every bad request gets a 4xx with a reason: the error type, the JSON reader, the middleware.

Handlers raise ``BadRequest`` (or another ``HttpProblem``) with a sentence for
the person; the middleware turns it, and aiohttp's own HTTP errors (a 413 for
a body over the limit, a 405...), into ``{"error": "..."}`` JSON. Anything
else escaping a handler is a bug: it is logged with its traceback and answered
with a JSON 500, which the hostile-request tests treat as a failure.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_BODY_KEY = web.AppKey("max_body_bytes", int)
"""The app's body limit, for saying it in the 413's reason."""
MAX_JSON_BYTES = 4 << 20
"""JSON bodies are small (a rating, a list of files); uploads are not JSON."""


class HttpProblem(Exception):
    status = 400

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.extra = extra


class BadRequest(HttpProblem):
    status = 400


class Forbidden(HttpProblem):
    """A place outside the library (the daemon never moves a file there)."""

    status = 403


class NotFound(HttpProblem):
    status = 404


class Conflict(HttpProblem):
    status = 409


class TooLarge(HttpProblem):
    status = 413


class UnsupportedMediaType(HttpProblem):
    status = 415


class Unprocessable(HttpProblem):
    """Well-formed bytes that are not a picture that can be decoded."""

    status = 422


class InsufficientStorage(HttpProblem):
    status = 507


def problem_response(exc: HttpProblem) -> web.Response:
    return web.json_response({"error": str(exc), **exc.extra}, status=exc.status)


async def read_json(request: web.Request, example: str = "{...}") -> Any:
    """The request's JSON body, or a BadRequest that says what was expected.

    JSON must say so (Content-Type: application/json): that makes every JSON call a
    non-"simple" request that a foreign page cannot send without a CORS preflight,
    which the daemon never grants."""
    content_type = request.content_type
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"send JSON like {example} with Content-Type: application/json")
    if request.content_length is not None and request.content_length > MAX_JSON_BYTES:
        raise TooLarge(f"a JSON body is at most {MAX_JSON_BYTES >> 20} MiB")
    raw = await request.read()
    if len(raw) > MAX_JSON_BYTES:
        raise TooLarge(f"a JSON body is at most {MAX_JSON_BYTES >> 20} MiB")
    try:
        return json.loads(raw)
    except RecursionError:
        raise BadRequest("the JSON is nested too deeply") from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(f"the body is not valid JSON; send JSON like {example}") from None


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
        if (response.status >= 400 and type(response) is web.Response
                and response.content_type != "application/json"):
            # aiohttp's own answers (the static route's 404) come bare: say it in JSON too.
            return web.json_response({"error": response.reason}, status=response.status)
        return response
    except HttpProblem as exc:
        return problem_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = exc.text if exc.content_type == "application/json" else None
        if message:
            return web.Response(status=exc.status, text=message, content_type="application/json")
        reason = exc.reason
        if exc.status == 413:
            reason = f"the body is larger than {request.app.get(MAX_BODY_KEY, 0) >> 20} MiB"
        return web.json_response({"error": reason}, status=exc.status, headers={
            k: v for k, v in exc.headers.items() if k.lower() == "allow"})
    except (ConnectionResetError, TimeoutError):
        raise
    except Exception:
        log.exception("unexpected error answering %s %s", request.method, request.path)
        return web.json_response({"error": "internal error (logged by the daemon)"},
                                 status=500)
