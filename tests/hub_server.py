"""A small Hugging Face hub on loopback: the endpoints huggingface_hub calls to download a repo.

It serves one folder as one model repo at one commit: repo info, the file
tree, and `resolve` for each file (HEAD for metadata, GET with Range for
resumable downloads). Requests are recorded so tests can check what was
fetched. Real HTTP, real huggingface_hub; nothing is mocked.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.loopback import LoopbackServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub(LoopbackServer):
    def __init__(self, repos: dict[str, Path]) -> None:
        self.repos = repos
        self.requests: list[tuple[str, str, str | None]] = []
        self.fail_after_bytes: int | None = None  # cut a download short, once
        super().__init__()

    # -------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/models/{org}/{name}/revision/{rev}", self.repo_info)
        app.router.add_get("/api/models/{org}/{name}", self.repo_info)
        app.router.add_get("/api/models/{org}/{name}/tree/{rev}", self.tree)
        app.router.add_route("*", "/{org}/{name}/resolve/{rev}/{path:.+}", self.resolve)

    # ---------------------------------------------------------------- helpers
    def _repo(self, request: web.Request) -> tuple[str, Path]:
        repo = f"{request.match_info['org']}/{request.match_info['name']}"
        self.requests.append((request.method, request.path, request.headers.get("Range")))
        if repo not in self.repos:
            raise web.HTTPNotFound(headers={"X-Error-Code": "RepoNotFound"},
                                   text='{"error": "Repository not found"}')
        return repo, self.repos[repo]

    @staticmethod
    def _files(root: Path) -> list[Path]:
        return sorted(p for p in root.rglob("*") if p.is_file())

    @staticmethod
    def _oid(path: Path) -> str:
        return hashlib.sha1(path.read_bytes()).hexdigest()

    # -------------------------------------------------------------- endpoints
    async def repo_info(self, request: web.Request) -> web.Response:
        repo, root = self._repo(request)
        siblings = [{"rfilename": str(p.relative_to(root))} for p in self._files(root)]
        return web.json_response({"id": repo, "modelId": repo, "sha": COMMIT, "private": False,
                                  "siblings": siblings, "tags": [], "downloads": 0, "likes": 0})

    async def tree(self, request: web.Request) -> web.Response:
        _, root = self._repo(request)
        entries: list[dict[str, Any]] = []
        for p in sorted(root.rglob("*")):
            rel = str(p.relative_to(root))
            if p.is_dir():
                entries.append({"type": "directory", "path": rel, "oid": "0" * 40, "size": 0})
            else:
                entries.append({"type": "file", "path": rel, "oid": self._oid(p),
                                "size": p.stat().st_size})
        return web.json_response(entries)

    async def resolve(self, request: web.Request) -> web.StreamResponse:
        _, root = self._repo(request)
        path = root / request.match_info["path"]
        if not path.is_file() or root not in path.resolve().parents:
            raise web.HTTPNotFound(headers={"X-Error-Code": "EntryNotFound"})
        data = path.read_bytes()
        headers = {"ETag": f'"{self._oid(path)}"', "X-Repo-Commit": COMMIT,
                   "Accept-Ranges": "bytes", "Content-Type": "application/octet-stream"}
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(data))
            return web.Response(status=200, headers=headers)
        start = 0
        if request.headers.get("Range", "").startswith("bytes="):
            start = int(request.headers["Range"][6:].split("-")[0])
        body = data[start:]
        status = 206 if start else 200
        if start:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = len(body)
        await response.prepare(request)
        if self.fail_after_bytes is not None and len(body) > self.fail_after_bytes:
            cut, self.fail_after_bytes = self.fail_after_bytes, None
            await response.write(body[:cut])
            request.transport.close()  # type: ignore[union-attr]  # the connection drops mid-file
            return response
        await response.write(body)
        await response.write_eof()
        return response
