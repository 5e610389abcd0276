"""Which stages a file's trip still holds, and what each of them reads: the runner's view
of one file, kept apart from how the runner moves files."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from typing import Any

from anagnorisisd.pipeline.pixels import FilePixels
from anagnorisisd.stage import PixelNeed, Stage, StageOutput
from anagnorisisd.store.database import Store

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Item:
    """A file's trip through the pipeline, as seen at the moment it was fed."""

    path: str
    gen: int
    content_hash: bytes | None
    stat: tuple[int, int] | None = None  # (size, mtime_ns) of the version being processed
    failure: tuple[str, str] | None = None
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed_stages: set[str] = field(default_factory=set)
    carried: dict[str, Any] = field(default_factory=dict)  # StageOutput.carry, never stored
    pixels: FilePixels | None = None  # the trip's one decode, made when a stage first asks

    def note_failure(self, stage: str, reason: str) -> None:
        self.failed_stages.add(stage)
        if self.failure is None:
            self.failure = (stage, reason)


def still_as_fed(item: Item, out: StageOutput, keys_content: bool) -> tuple[int, int] | None:
    """The file's stat now, if it is still the version the stage was given; else None.

    For the hashing stage the version is the one it hashed (its output says)."""
    expected = item.stat
    if keys_content and out.output is not None:
        # The hashing stage compared the file's stat before and after reading it and
        # records exactly what it hashed; a change after that is a new stat for the
        # watcher or the next scan. No second look needed.
        return (int(out.output["size"]), int(out.output["mtime_ns"]))
    try:
        st = os.stat(item.path)
    except OSError:
        return None
    now = (st.st_size, st.st_mtime_ns)
    return now if expected is None or now == expected else None


class StagePlan:
    def __init__(self, store: Store, stages: list[Stage]) -> None:
        self.store = store
        self.stages = stages
        self.provider = {key: stage.name for stage in stages for key in stage.provides}
        """Which stage records each output a stage may require."""

    def ready(self, stage: Stage) -> bool:
        """The stage can run now: it says so, and so does every stage it takes input from
        (face signals wait, parked like their faces stage, while no face model is in)."""
        if not stage.ready():
            return False
        providers = {self.provider.get(key) for key in stage.requires} - {None, stage.name}
        return all(other.ready() for other in self.stages if other.name in providers)

    def waits_for_input(self, stage: Stage, item: Item) -> bool:
        """Whether something the stage requires has not been recorded for this content:
        its stage passed the file by (not ready: no model yet). The stage then passes it
        by too, unmarked, and runs when the trip that brings the input comes; a result
        made from an empty input would stand for good."""
        for key in stage.requires:
            if key in item.outputs or item.content_hash is None:
                continue
            mark = self.store.get_mark(item.content_hash, self.provider.get(key, key))
            if mark is None:
                return True
        return False

    def needs(self, stage: Stage, item: Item) -> bool:
        """Whether `stage` runs on this file now; a failure recorded before is noted."""
        if stage.keys_content:
            return True
        if stage.background or not self.ready(stage):
            return False  # passes by unmarked; refresh_versions() re-queues it later
        if item.content_hash is None or any(r in item.failed_stages for r in stage.requires):
            return False
        if self.waits_for_input(stage, item):
            return False
        mark = self.store.get_mark(item.content_hash, stage.name)
        if mark is not None and mark.version == stage.version:
            if mark.blocked:  # an earlier trip failed before it: this one has not, so far
                return item.failure is None
            if mark.error:
                item.note_failure(stage.name, mark.error)
            return False
        return True

    def will_run(self, stage: Stage, item: Item) -> bool:
        """Whether `stage` is still to run on this file (as `needs`, noting nothing)."""
        if stage.keys_content or stage.background or not self.ready(
                stage) or item.content_hash is None or any(
                r in item.failed_stages for r in stage.requires) or self.waits_for_input(
                stage, item):
            return False
        mark = self.store.get_mark(item.content_hash, stage.name)
        return mark is None or mark.version != stage.version or (
            mark.blocked is not None and item.failure is None)

    @staticmethod
    def pixel_need(stage: Stage) -> PixelNeed | None:
        try:
            return stage.pixel_need()
        except Exception:  # a plugin's hook must not stop the runner: it gets full pixels
            log.exception("stage %s: pixel_need() failed", stage.name)
            return PixelNeed()

    def needs_after(self, index: int, item: Item) -> list[PixelNeed]:
        """The pixels the stages after `index` that will still run on this file read."""
        return [need for stage in self.stages[index + 1:]
                if (need := self.pixel_need(stage)) is not None
                and self.will_run(stage, item)]
