"""Live progress for the panel: server-sent events with the status document."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from anagnorisisd.http.common import LIBRARY_KEY, run_blocking


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: the status document once a second, only while someone listens."""
    library = request.app[LIBRARY_KEY]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
    await response.prepare(request)
    try:
        while True:
            status = await run_blocking(library.status)
            status["training"] = library.trainer.public_status()
            await response.write(f"event: status\ndata: {json.dumps(status)}\n\n".encode())
            await asyncio.sleep(1.0)
    except ConnectionResetError:  # the browser went away; cancellation is let through
        pass
    return response


def register(app: web.Application) -> None:
    app.router.add_get("/api/events", events)
