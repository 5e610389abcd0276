"""The models feature's route: POST /api/models/pull."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from anagnorisisd.feature import Route
from anagnorisisd.features.models.pulls import ModelPulls, PullBusy, UnknownModel, pullable
from anagnorisisd.http.common import feature_of, handle_errors
from anagnorisisd.http.errors import BadRequest, Conflict, read_json
from anagnorisisd.http.schemas import errors, json_body, json_response

PULL = {
    "summary": "Download a model a stage waits for (immich's face and text models, the "
               "eye model), in the background; GET /api/status says how it went "
               "(models.pulls), and the stage picks the model up by itself",
    "requestBody": json_body({"type": "object", "required": ["name"], "properties": {
        "name": {"enum": pullable()}}}),
    "responses": {"202": json_response({"type": "object", "required": ["state"],
                                        "properties": {"state": {"enum": ["running"]}}},
                                       "started"), **errors(400, 409, 415)}}


async def pull(request: web.Request) -> web.Response:
    pulls: ModelPulls = feature_of(request, "models").pulls

    async def work() -> dict[str, Any]:
        body = await read_json(request, '{"name": "buffalo_l"}')
        name = body.get("name") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise BadRequest('send JSON like {"name": "buffalo_l"}')
        try:
            pulls.start_pull(name.strip())
        except UnknownModel as exc:
            raise BadRequest(str(exc)) from None
        except PullBusy as exc:
            raise Conflict(str(exc)) from None
        return {"state": "running"}

    response = await handle_errors(request, work())
    if response.status == 200:
        response.set_status(202)
    return response


def routes() -> list[Route]:
    return [Route("POST", "/api/models/pull", pull, PULL)]
