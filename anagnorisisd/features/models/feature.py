"""The models feature: POST /api/models/pull, which the panel's "Download" button sends
for a stage waiting on a model, and `models` in the status (the hub reachable or not, each
download's state)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from aiohttp import web

from anagnorisisd.feature import Feature, FeatureContext, Route
from anagnorisisd.features.models.pulls import ModelPulls, PullBusy, UnknownModel, pullable
from anagnorisisd.http.common import feature_of, handle_errors
from anagnorisisd.http.errors import BadRequest, Conflict, read_json
from anagnorisisd.http.schemas import errors, json_body, json_response

STOP_S = 5.0
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


class ModelsFeature(Feature):
    name: ClassVar[str] = "models"

    def __init__(self, context: FeatureContext) -> None:
        super().__init__(context)
        self.pulls = ModelPulls(context.config)

    def routes(self) -> Iterable[Route]:
        return [Route("POST", "/api/models/pull", pull, PULL)]

    def start(self) -> None:
        self.pulls.start()

    def stop(self) -> None:
        self.pulls.stop(STOP_S)

    def status(self) -> dict[str, Any]:
        return {"models": self.pulls.status()}
