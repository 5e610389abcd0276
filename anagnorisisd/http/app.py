"""The aiohttp app factory: middlewares, body limit, the core's routes and every feature's
(Feature.routes), and the OpenAPI document made of them all."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from anagnorisisd.app.library import Library
from anagnorisisd.http import events, files, images, library, openapi, panel
from anagnorisisd.http.common import LIBRARY_KEY, MODEL_POOL_KEY, MODEL_THREADS
from anagnorisisd.http.errors import MAX_BODY_KEY, error_middleware
from anagnorisisd.http.guard import guard_middleware
from anagnorisisd.http.readiness import readiness_middleware


def create_app(library_: Library) -> web.Application:
    server = library_.config.server
    app = web.Application(
        middlewares=[error_middleware, guard_middleware(server.token, server.allowed_hosts),
                     readiness_middleware],
        client_max_size=server.max_body_mb << 20,
    )
    app[LIBRARY_KEY] = library_
    pool = ThreadPoolExecutor(MODEL_THREADS, thread_name_prefix="http-model")
    app[MODEL_POOL_KEY] = pool

    async def stop_pool(_app: web.Application) -> None:  # never waits for a stuck model call
        pool.shutdown(wait=False, cancel_futures=True)

    app.on_cleanup.append(stop_pool)
    app[MAX_BODY_KEY] = server.max_body_mb << 20
    for resource in (library, images, files, events, panel):
        resource.register(app)
    routes = library_.features.routes()
    for _feature, route in routes:  # each feature's own, as it declared them
        app.router.add_route(route.method, route.path, route.handler)
    openapi.serve(app, routes)
    return app
