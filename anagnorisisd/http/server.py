"""The connection-level rules aiohttp leaves open: what a request it cannot parse gets, and
how long a connection may take to send its first request.

aiohttp answers a request line or header over 8 KiB (or any framing it cannot parse) with
plain text, and logs a full traceback each time: 1,500 such requests were 1,500 tracebacks.
Here they get the JSON error every other refusal gets, and one log line. And a client that
opens a connection and sends half a request holds it as long as it likes; here the first
request must be complete within HEADER_TIMEOUT_S.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = logging.getLogger("anagnorisisd.http")
HEADER_TIMEOUT_S = 10.0


class JsonErrorHandler(RequestHandler):  # type: ignore[misc]  # aiohttp's own class
    __slots__ = ("_first_request_timer",)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._first_request_timer: asyncio.TimerHandle | None = asyncio.get_running_loop(
            ).call_later(HEADER_TIMEOUT_S, self._drop_if_still_silent)

    def _drop_if_still_silent(self) -> None:
        self._first_request_timer = None
        if self._request_count == 0 and self.transport is not None:
            log.info("closed a connection that sent no whole request in %g s",
                     HEADER_TIMEOUT_S)
            self.transport.close()

    def connection_lost(self, exc: BaseException | None) -> None:
        timer = getattr(self, "_first_request_timer", None)
        if timer is not None:
            timer.cancel()
        super().connection_lost(exc)

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if status >= 500:  # a bug of ours: aiohttp's own report, traceback and all
            return super().handle_error(request, status, exc, message)
        if request.writer.output_size > 0:
            raise ConnectionError("the response had started; cannot send an error now")
        reason = message or (str(exc) if exc else "") or "malformed request"
        reason = reason.splitlines()[0][:200] if reason.strip() else "malformed request"
        log.warning("refused a malformed request from %s: %s", request.remote, reason)
        response = web.json_response({"error": f"malformed request: {reason}"}, status=status)
        response.force_close()
        return response


class JsonErrorServer(web.Server):
    """web.Server that makes JsonErrorHandler connections (see install)."""

    def __call__(self) -> RequestHandler:
        return JsonErrorHandler(self, loop=asyncio.get_running_loop(),
                                **self._kwargs)  # type: ignore[attr-defined]


def install(runner: web.AppRunner) -> None:
    """After runner.setup(): its server makes JsonErrorHandler connections. aiohttp has no
    public hook for the connection class; the server is the runner's own, only its class
    changes (a subclass adding one method, no state)."""
    server = runner.server
    assert server is not None, "call runner.setup() first"
    server.__class__ = JsonErrorServer
