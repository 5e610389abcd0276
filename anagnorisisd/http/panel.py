"""The panel's pages and files, served from a fixed list of names (package data of
anagnorisisd.panel): no request path is ever joined onto a folder."""

from __future__ import annotations

import sys
from importlib import resources
from pathlib import Path

from aiohttp import web

from anagnorisisd.http.common import LIBRARY_KEY
from anagnorisisd.http.errors import NotFound

UI_FILES_KEY = web.AppKey("ui_files", dict)


WEB_ROOT = Path(str(resources.files("anagnorisisd.panel")))


async def index_page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(WEB_ROOT / "index.html")


def panel_files() -> dict[str, Path]:
    """The panel's files by name: only these are served under /ui/, so no request path is
    ever joined onto a folder."""
    if not WEB_ROOT.is_dir():
        return {}
    return {p.name: p for p in WEB_ROOT.iterdir()
            if p.is_file() and p.suffix in (".html", ".js", ".css", ".svg", ".png")}


async def ui_file(request: web.Request) -> web.StreamResponse:
    path = request.app[UI_FILES_KEY].get(request.match_info["name"])
    if path is None:
        raise NotFound("no such file in the panel")
    return web.FileResponse(path, headers={"Cache-Control": "no-cache",
                                           "X-Content-Type-Options": "nosniff"})


ASSET_TYPES = {".js": "text/javascript", ".css": "text/css", ".json": "application/json",
               ".png": "image/png", ".svg": "image/svg+xml"}


async def feature_panel(request: web.Request) -> web.StreamResponse:
    """A feature's panel module (Feature.panel) or one of its assets (Feature.assets): a
    file it names, from its own package, and nothing else of that package."""
    library = request.app[LIBRARY_KEY]
    feature = library.features.get(request.match_info["name"])
    wanted = request.match_info["file"]
    if feature is None or not feature.panel or wanted not in (feature.panel, *feature.assets):
        raise NotFound("no such panel module")
    module = sys.modules[type(feature).__module__]
    folder = Path(str(module.__file__)).parent
    path = (folder / wanted).resolve()
    kind = ASSET_TYPES.get(path.suffix)
    if kind is None or not path.is_file() or folder.resolve() not in path.parents:
        raise NotFound("no such panel module")
    return web.FileResponse(path, headers={"Cache-Control": "no-cache",
                                           "Content-Type": kind,
                                           "X-Content-Type-Options": "nosniff"})


async def feature_page(request: web.Request) -> web.FileResponse:
    """A page a feature's panel module adds (Feature.pages, panelApi.addPage): the
    panel's one page; 404 for a name no loaded feature has a page of."""
    name = request.match_info["page"]
    features = request.app[LIBRARY_KEY].features
    if not any(f.panel and name in f.pages for f in features.items):
        raise NotFound("no such page")
    return web.FileResponse(WEB_ROOT / "index.html")


def register(app: web.Application) -> None:
    app.router.add_get("/features/{name}/{file:[A-Za-z0-9_./-]+}", feature_panel)
    app[UI_FILES_KEY] = panel_files()
    app.router.add_get("/", index_page)
    app.router.add_get("/train", index_page)
    app.router.add_get("/people", index_page)
    app.router.add_get("/people/{id:[0-9a-f]{12}}", index_page)
    app.router.add_get("/concepts", index_page)
    app.router.add_get("/concepts/{id:[0-9a-f]{12}}", index_page)
    app.router.add_get("/status", index_page)
    app.router.add_get("/ui/{name}", ui_file)
    app.router.add_get("/{page:[a-z][a-z0-9_-]{0,39}}", feature_page)
