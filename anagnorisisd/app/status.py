"""The status document: one builder, so ``status --json`` and ``GET /api/status`` agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from anagnorisisd.pipeline.registry import Assembly
from anagnorisisd.pipeline.runner import Pipeline
from anagnorisisd.store.census import Census
from anagnorisisd.store.database import Store
from anagnorisisd.store.records import DONE, FAILED, PENDING


def stage_counts(store: Store, assembly: Assembly, c: Census | None = None
                 ) -> dict[str, dict[str, int]]:
    """done/pending/failed/skipped per stage, from the store's live census.

    The hashing stage counts files; the others count distinct content, plus
    the files not hashed yet (each will bring content that needs the stage). `skipped`
    is content an earlier stage failed (a file that cannot be read): never pending in a
    later stage, and listed once, with its first failure, in /api/failures.
    """
    c = c or store.census_snapshot()
    total = sum(c.files.values())
    out: dict[str, dict[str, int]] = {}
    key_stage = next((s.name for s in assembly.stages if s.keys_content), "hash")
    hash_failed = c.file_failed_at[key_stage]
    unhashed = max(0, total - c.hashed - hash_failed)
    for stage in assembly.stages:
        if stage.keys_content:
            out[stage.name] = {"done": c.hashed, "failed": hash_failed, "pending": unhashed,
                               "skipped": 0}
        else:
            done, failed = c.stage_done[stage.name], c.stage_failed[stage.name]
            blocked = c.stage_blocked[stage.name]
            pending = max(0, c.live_content - done - failed - blocked) + unhashed
            out[stage.name] = {"done": done, "failed": failed, "pending": pending,
                               "skipped": blocked}
    return out


def build_status(
    store: Store,
    assembly: Assembly,
    pipeline: Pipeline | None,
    library: dict[str, Any],
    extra: dict[str, Any],
) -> dict[str, Any]:
    census = store.census_snapshot(wait=False)
    stages: dict[str, dict[str, Any]] = {}
    all_counts = stage_counts(store, assembly, census)
    for stage in assembly.stages:
        counts = all_counts[stage.name]
        # the version counted against (the remembered one, for a status with no daemon)
        entry: dict[str, Any] = {**counts, "version": store.stage_versions.get(
            stage.name, stage.version)}
        if pipeline is not None:
            rate = pipeline.meters[stage.name].rate()
            entry["processed"] = pipeline.meters[stage.name].total
            entry["rate_per_s"] = round(rate, 2)
            entry["eta_s"] = round(counts["pending"] / rate, 1) if rate > 0 else None
        try:
            entry.update(stage.status())
            # a stage that cannot run now (no model) leaves its files waiting, not in work
            entry["ready"] = bool(stage.keys_content or (
                pipeline.plan.ready(stage) if pipeline is not None else stage.ready()))
            if not entry["ready"] and not stage.keys_content and stage.ready():
                entry["waiting_for"] = list(stage.requires)  # its input's stage
        except Exception as exc:  # a plugin's status hook must not break status
            entry["status_error"] = f"{type(exc).__name__}: {exc}"
            entry["ready"] = False
        if stage.background:  # run apart, after the rest: its progress and ETA are its own
            lane = next((la for la in pipeline.lanes if la.stage is stage), None) \
                if pipeline is not None else None
            entry["background"] = True
            entry["waiting_for_other_stages"] = bool(lane and lane.paused_for_pipeline)
            entry["paused"] = lane.full if lane is not None else None  # a full disk, say
        stages[stage.name] = entry
    files = {
        "total": sum(census.files.values()),
        "done": census.files[DONE],
        "failed": census.files[FAILED],
        "pending": census.files[PENDING],
        # only while the first count is being made (these are the counts so far)
        **({"counting": True} if census.counting else {}),
    }
    return {
        **extra,
        "library": library,
        "files": files,
        "content": {"unique": census.live_content},
        "stages": stages,
        "plugins": {"problems": dict(assembly.problems), "disabled": list(assembly.disabled)},
        "queue": {
            "queued": store.dirty_count(),
            "in_flight": pipeline.in_flight() if pipeline is not None else 0,
            # worked newest first: every file modified after this has been through
            "ready_back_to": ready_back_to(store),
            # clips go one at a time on their own lane: which one, how many wait
            "videos": pipeline.video_lane.status() if pipeline is not None else None,
        },
        "schema_version": store.schema_version(),
    }


def ready_back_to(store: Store) -> str | None:
    """The modification time (ISO 8601, UTC) of the newest file still queued: the queue is
    worked newest first, so everything newer is described and searchable. None when nothing
    is queued."""
    newest = store.newest_queued_ns()
    if newest is None:
        return None
    return datetime.fromtimestamp(newest / 1e9, tz=UTC).isoformat(timespec="seconds")
