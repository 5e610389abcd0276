"""Live progress for the panel: server-sent events with the status document.

One status document a second serves every live-progress client together: it is made on a
thread of its own (never one of the threads that answer requests), only while someone
listens, and each client is sent the newest one. A hundred open panels cost one status a
second, not a hundred threads' worth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from anagnorisisd.app.library import Library
from anagnorisisd.http.common import LIBRARY_KEY


class StatusFeed:
    def __init__(self, library: Library) -> None:
        self.library = library
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="status-feed")
        self._latest = b""
        self._version = 0
        self._listeners = 0
        self._changed: asyncio.Condition | None = None
        self._task: asyncio.Task[None] | None = None

    def _make(self) -> bytes:
        status = self.library.status()  # training's progress is the ratings feature's part
        return f"event: status\ndata: {json.dumps(status)}\n\n".encode()

    async def _run(self) -> None:
        assert self._changed is not None
        loop = asyncio.get_running_loop()
        while self._listeners:
            data = await loop.run_in_executor(self._pool, self._make)
            async with self._changed:
                self._latest, self._version = data, self._version + 1
                self._changed.notify_all()
            await asyncio.sleep(1.0)
        self._task = None

    async def stream(self, response: web.StreamResponse) -> None:
        """Write every new status document to `response` until the client goes away."""
        if self._changed is None:
            self._changed = asyncio.Condition()
        self._listeners += 1
        if self._task is None:
            self._task = asyncio.create_task(self._run())
        seen = 0
        try:
            while True:
                async with self._changed:
                    while self._version == seen:
                        await self._changed.wait()
                    data, seen = self._latest, self._version
                await response.write(data)
        finally:
            self._listeners -= 1

    async def close(self, _app: web.Application) -> None:
        if self._task is not None:
            self._task.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)


FEED_KEY = web.AppKey("status_feed", StatusFeed)


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: the status document once a second, only while someone listens."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                           "Cache-Control": "no-cache"})
    await response.prepare(request)
    with contextlib.suppress(ConnectionResetError):  # the browser went away
        await request.app[FEED_KEY].stream(response)
    return response


def register(app: web.Application) -> None:
    feed = StatusFeed(app[LIBRARY_KEY])
    app[FEED_KEY] = feed
    app.on_cleanup.append(feed.close)
    app.router.add_get("/api/events", events)
