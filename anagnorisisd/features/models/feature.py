"""The models feature: POST /api/models/pull, which the panel's "Download" button sends
for a stage waiting on a model, and `models` in the status (the hub reachable or not, each
download's state)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from anagnorisisd.feature import Feature, FeatureContext, Route
from anagnorisisd.features.models.pulls import ModelPulls

STOP_S = 5.0


class ModelsFeature(Feature):
    name: ClassVar[str] = "models"

    def __init__(self, context: FeatureContext) -> None:
        super().__init__(context)
        self.pulls = ModelPulls(context.config)

    def routes(self) -> Iterable[Route]:
        from anagnorisisd.features.models.routes import routes  # the web server's, read by serve

        return routes()

    def start(self) -> None:
        self.pulls.start()

    def stop(self) -> None:
        self.pulls.stop(STOP_S)

    def status(self) -> dict[str, Any]:
        return {"models": self.pulls.status()}
