"""Nothing answered from a library that is still loading.

For a few seconds after every start the catalog, the index and the people are read from
the store on a thread of their own (the port opens first, so a taken port is said before
any work starts). A request that needs them meanwhile would find "no such image" for a
photo that exists, or an empty listing: a wrong answer a client may act on (a rating PUT
retried elsewhere, a sync tool deleting what it thinks is gone). Until the library says it
has loaded, such a request is answered 503 with Retry-After and a sentence; status,
progress, the library paths, the API document and the panel's own files answer at once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from anagnorisisd.http.common import LIBRARY_KEY

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ALWAYS = frozenset({"/api/status", "/api/events", "/api/openapi.json", "/api/library",
                    "/api/failures", "/api/vocabulary", "/api/features"})
"""What answers while loading: none of them reads the catalog."""
RETRY_AFTER_S = 1


@web.middleware
async def readiness_middleware(request: web.Request, handler: Handler) -> Any:
    library = request.app[LIBRARY_KEY]
    if library.loaded.is_set() or not request.path.startswith("/api/") or \
            request.path in ALWAYS or request.method == "OPTIONS":
        return await handler(request)
    return web.json_response(
        {"error": "the library is still loading its catalog after a start; try again in a "
                  "moment", "retry_after_s": RETRY_AFTER_S},
        status=503, headers={"Retry-After": str(RETRY_AFTER_S)})
