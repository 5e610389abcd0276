"""The video feature: clips and Live Photos as items of their own.

It owns the words `type:video`, `type:photo`, `type:live` and `duration>30`; finds the
moment inside a clip that a search by meaning matched (``moments``: each clip's scenes,
embedded by the embedding stage, searched beside the index); says in every item what kind
it is, how long and in what codec (``describe``); and plays a clip, or a Live Photo's
motion, from GET /api/images/{id}/video with Range (routes.py), in the panel's viewer
(panel.js). The scenes themselves are found by the pipeline (imaging.video_frames), where
every stage reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.events import ContentChanged, Hub, StageResult
from anagnorisisd.feature import Feature, FeatureContext, Route, Word
from anagnorisisd.features.video.clips import VIDEO_FORMATS, Clips
from anagnorisisd.search.core_words import compare_number
from anagnorisisd.search.query import Query, Token

KINDS = ("video", "photo", "live")
DURATION_UNITS = {"s": 1.0, "sec": 1.0, "min": 60.0, "m": 60.0, "h": 3600.0}


def parse_type(query: Query, token: Token) -> None:
    kind = token.value.strip().lower()
    if kind not in KINDS:
        raise token.error("type: is one of video, photo or live, like type:video")
    query.add("type", "!=" if token.negated else "=", kind)


class VideoFeature(Feature):
    name: ClassVar[str] = "video"
    stages: ClassVar[tuple[str, ...]] = ("meta", "clip")
    panel: ClassVar[str | None] = "panel.js"

    def __init__(self, context: FeatureContext) -> None:
        super().__init__(context)
        stages = context.stages
        self.clips = Clips(context.store, context.catalog, stages.provider("metadata"),
                           stages.provider("embedding"))
        self._live: tuple[object, int, dict[bytes, bytes]] = (None, -1, {})

    @classmethod
    def words(cls) -> Iterable[Word]:
        return [Word("type", "key", "what kind of item: type:video (clips), type:photo "
                     "(stills, Live Photos too), type:live (Live Photos); -type:video",
                     parse_type, negatable=True),
                Word("duration", "compare", "a clip's length, in seconds or with s, min, h: "
                     "duration>30, duration<2min", compare_number("duration",
                                                                  DURATION_UNITS))]

    def routes(self) -> Iterable[Route]:
        from anagnorisisd.features.video.routes import routes  # the web server's, read by serve

        return routes()

    def subscribe(self, hub: Hub) -> None:
        clips = self.clips

        def changed(event: ContentChanged) -> None:
            clips.forget(event.died)
            for content in event.born:
                clips.read(content)

        hub.subscribe(StageResult, lambda e: clips.on_result(e.stage, e.content, e.output),
                      "video: a clip's facts and scenes")
        hub.subscribe(ContentChanged, changed, "video: clips come and go")

    def load(self) -> None:
        self.clips.load()

    def status(self) -> dict[str, Any]:
        clips = self.clips
        return {"videos": {"clips": len(clips.facts),
                           "scenes": sum(len(s.times) for s in list(clips.scenes.values())),
                           "live_photos": len(self.live_stills())}}

    # ------------------------------------------------------------------ kinds
    def live_stills(self) -> dict[bytes, bytes]:
        """Still -> the motion shown with it (a Live Photo: search.pairs pairs them); worked
        out again only when the pairs or the clips change (every listing asks)."""
        raws = self.context.catalog.raws  # replaced whole when the pairs are found again
        version = self.clips.version
        if self._live[0] is raws and self._live[1] == version:
            return self._live[2]
        out = {}
        for still, hidden in list(raws.items()):
            motion = next((h for h in hidden if self.clips.is_video(h)), None)
            if motion is not None:
                out[still] = motion
        self._live = (raws, version, out)
        return out

    def playable(self, content: bytes) -> bytes | None:
        """The clip to play for an item: itself, or a Live Photo's motion."""
        if self.clips.is_video(content):
            return content
        return self.live_stills().get(content)

    def describe(self, content: bytes) -> dict[str, Any]:
        clips = self.clips
        if clips.is_video(content):
            facts = clips.facts[content]
            return {"kind": "video", "duration_s": facts.get("duration_s"),
                    "fps": facts.get("fps"), "codec": facts.get("codec")}
        motion = self.live_stills().get(content)
        if motion is not None:
            facts = clips.facts.get(motion, {})
            return {"kind": "live", "motion": motion.hex(),
                    "duration_s": facts.get("duration_s"), "codec": facts.get("codec")}
        return {"kind": "photo"}

    def match(self, filter_: Any, columns: Any) -> NDArray[np.bool_]:
        video = np.isin(columns.format, sorted(VIDEO_FORMATS))
        if filter_.field == "duration":
            length = np.full(len(columns.ids), np.nan)
            for content, facts in list(self.clips.facts.items()):
                row = columns.position.get(content)
                value = facts.get("duration_s")
                if row is not None and isinstance(value, int | float):
                    length[row] = value
            with np.errstate(invalid="ignore"):
                passing: NDArray[np.bool_] = {
                    ">=": length >= filter_.value, "<=": length <= filter_.value,
                    ">": length > filter_.value, "<": length < filter_.value,
                    "=": length == filter_.value, "!=": length != filter_.value,
                }[filter_.op]
            return passing & video
        if filter_.value == "video":
            chosen = video
        else:
            live = np.zeros(len(columns.ids), dtype=bool)
            for still in self.live_stills():
                row = columns.position.get(still)
                if row is not None:
                    live[row] = True
            chosen = live if filter_.value == "live" else ~video
        return ~chosen if filter_.op == "!=" else chosen

    def duplicates(self, threshold: float) -> list[tuple[bytes, bytes]]:
        model = self.context.search.models.maybe_model()
        return self.clips.contained(model.identity, threshold) if model is not None else []

    # ----------------------------------------------------------------- search
    def moments(self, vector: NDArray[np.float32], limit: int,
                among: list[bytes] | None = None) -> dict[bytes, tuple[float, float]]:
        model = self.context.search.models.maybe_model()
        if model is None:
            return {}
        found = self.clips.best(model.identity, vector, limit, among)
        return {c: (score, round(at, 2)) for c, (score, at) in found.items() if score == score}
