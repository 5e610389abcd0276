"""Playing a clip: GET /api/images/{id}/video serves a video's file, or a Live Photo's
motion, with HTTP Range (aiohttp's FileResponse answers Range, If-Range and 416), so a
browser seeks without downloading the whole file. The file is found as every file route
finds one (app.presenters.servable_path): a path of that content that really lies in
the library now, links resolved, so a symlink or a folder swapped in since indexing
cannot make the daemon serve what is outside."""

from __future__ import annotations

import os
from typing import Any

from aiohttp import web

from anagnorisisd.app.presenters import servable_path
from anagnorisisd.feature import Route
from anagnorisisd.http.common import LIBRARY_KEY, feature_of, image_id, run_blocking
from anagnorisisd.http.errors import NotFound
from anagnorisisd.http.schemas import ID, errors

MIME = {".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime",
        ".3gp": "video/3gpp", ".mkv": "video/x-matroska", ".webm": "video/webm",
        ".avi": "video/x-msvideo"}
SPEC: dict[str, Any] = {
    "summary": "A video's file, or a Live Photo's motion, to play (Range requests "
               "supported, so a player seeks)", "parameters": [ID],
    "responses": {"200": {"description": "the clip", "content": {
        "video/*": {"schema": {"type": "string", "format": "binary"}}}},
        "206": {"description": "part of the clip"},
        "416": {"description": "a range outside the file"}, **errors(404)}}


async def get_video(request: web.Request) -> web.StreamResponse:
    feature = feature_of(request, "video")
    library = request.app[LIBRARY_KEY]
    content = image_id(request)
    clip = feature.playable(content)
    if clip is None:
        raise NotFound("this is a photo without motion: there is no video to play")
    path = await run_blocking(servable_path, library, clip)
    if path is None:
        raise NotFound("the clip's file is not in the library now")
    mime = MIME.get(os.path.splitext(path)[1].lower(), "application/octet-stream")
    return web.FileResponse(path, headers={"Content-Type": mime,
                                           "Cache-Control": "private, max-age=3600",
                                           "X-Content-Type-Options": "nosniff"})


def routes() -> list[Route]:
    return [Route("GET", "/api/images/{id}/video", get_video, SPEC)]
