"""The sidecars feature: what other tools write in a photo's XMP sidecar comes in (the
metadata stage reads it again when it changes), and, with `[ratings] write_xmp`, what the
person decides here goes out, one topic at a time (sync.py says the rules).

It owns no data of its own but what the sidecars last said: a rating a newer sidecar
brings is handed to the ratings feature, a pick, reject or label to the culling feature
(the hub's FlagsAdopted), and what goes out is read from the store (ratings and
decisions) and the catalog (the confirmed concepts among a photo's tags)."""

from __future__ import annotations

from typing import Any, ClassVar

from anagnorisisd.events import FlagsAdopted, FlagsChanged, Hub, StageResult
from anagnorisisd.feature import Feature, FeatureContext
from anagnorisisd.features.sidecars.sync import SidecarSync


class SidecarsFeature(Feature):
    name: ClassVar[str] = "sidecars"
    stages: ClassVar[tuple[str, ...]] = ("meta",)

    def __init__(self, context: FeatureContext) -> None:
        super().__init__(context)
        catalog = context.catalog
        self.sync = SidecarSync(
            context.store, context.stages.provider("metadata"),
            context.config.ratings.write_xmp, context.files_of,
            lambda content: tuple(name for name, _ in catalog.tags.group_of(content,
                                                                              "concept")),
            lambda content, changes: context.hub.publish(FlagsAdopted(content, changes)))

    def subscribe(self, hub: Hub) -> None:
        sync = self.sync
        hub.subscribe(StageResult, lambda e: sync.on_result(e.stage, e.content, e.output),
                      "sidecars in: what other tools changed")
        hub.subscribe(FlagsChanged, lambda e: sync.on_flags(e.content, e.topics),
                      "sidecars out: ratings, picks, rejects, labels, concepts")

    def status(self) -> dict[str, Any]:
        return {"xmp_sidecars": {"write": self.sync.write_xmp, **self.sync.status()}}
