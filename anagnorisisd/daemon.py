"""The library service: store, pipeline, watcher, scheduler, wired together once.

Both ``serve`` and the one-shot ``index`` run this same object (``index``
without the watcher), so there is one code path to trust. The HTTP layer and
the CLI only ever talk to this class.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from anagnorisisd import __version__
from anagnorisisd.config import Config
from anagnorisisd.models.service import ModelService
from anagnorisisd.pipeline import Pipeline
from anagnorisisd.registry import Assembly, assemble
from anagnorisisd.scanner import ScanReport, normalise_root, scan
from anagnorisisd.search.service import SearchService
from anagnorisisd.stage import StageContext
from anagnorisisd.status import build_status
from anagnorisisd.store import Store
from anagnorisisd.training import Trainer
from anagnorisisd.watcher import Debouncer, LibraryWatcher

log = logging.getLogger(__name__)
LIBRARY_SETTING = "library.paths"


class LibraryPathError(ValueError):
    """A library path that cannot be used, phrased for the person who typed it."""


def validate_library_paths(paths: list[str]) -> list[str]:
    if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
        raise LibraryPathError("paths must be a list of non-empty strings")
    out: list[str] = []
    for raw in paths:
        root = normalise_root(raw)
        if not os.path.exists(root):
            raise LibraryPathError(f"{raw}: no such directory")
        if not os.path.isdir(root):
            raise LibraryPathError(f"{raw}: not a directory")
        if not os.access(root, os.R_OK | os.X_OK):
            raise LibraryPathError(f"{raw}: not readable")
        if root not in out:
            out.append(root)
    return out


class Library:
    """Everything the daemon does to a library, independent of how it is asked."""

    def __init__(self, config: Config, *, watch: bool = True) -> None:
        self.config = config
        self.started_at = time.time()
        self.store = Store(config.data_dir, config.storage.map_size_gb)
        self.models = ModelService(config, auto_pull=None if watch else False)
        self.assembly: Assembly = assemble(config, StageContext(config, self.models))
        self.pipeline = Pipeline(self.store, self.assembly, config.pipeline.queue_size)
        self.models.on_ready(self.pipeline.refresh_versions)
        self.search = SearchService(self.store, self.models, config.data_dir / "index",
                                    config.index.text_limit,
                                    float(config.index.min_rebuild_interval_s))
        self.search.index.n_trees = config.index.n_trees
        self.search.index.search_k = config.index.search_k
        self.pipeline.result_listeners.append(self.search.on_result)
        self.models.on_ready(self.search.on_model_ready)
        self.trainer = Trainer(self.store, self.search, config.data_dir / "evaluator")
        self.pipeline.result_listeners.append(self.trainer.on_result)
        stored = self.store.get_setting(LIBRARY_SETTING)
        self.roots_source = "api" if stored is not None else "config"
        self.roots: list[str] = [normalise_root(p) for p in (stored or config.library.paths)]
        self.watch = watch and config.watcher.enabled
        self.debouncer = Debouncer(
            self.store, config.library.extensions, config.watcher.debounce_s,
            config.watcher.settle_s, self.pipeline.wake,
        )
        self.watcher = LibraryWatcher(self.debouncer)
        self.scheduler = BackgroundScheduler(daemon=True)
        self._scan_lock = threading.Lock()
        self.scan_state: dict[str, Any] = {"running": False, "last": None}

    # --------------------------------------------------------------- lifecycle
    def start(self) -> None:
        threading.Thread(target=self.search.start, name="search-load", daemon=True).start()
        self.pipeline.start()
        if self.uses_model:
            self.models.load_in_background()
        if self.watch:
            self.debouncer.start()
            self.watcher.set_roots(self.roots)
        sched = self.config.scheduler
        self.scheduler.add_job(self.rescan, "interval", seconds=sched.rescan_interval_s,
                               id="rescan", max_instances=1, coalesce=True,
                               next_run_time=_now())
        if self.watch:
            self.scheduler.add_job(self.watch_new_roots, "interval",
                                   seconds=sched.missing_root_check_s, id="missing-roots",
                                   max_instances=1, coalesce=True)
        self.scheduler.add_job(self.models.unload_idle, "interval", seconds=30, id="model-idle",
                               max_instances=1, coalesce=True)
        if self.uses_model:
            self.scheduler.add_job(self.models.recheck, "interval", seconds=sched.model_check_s,
                                   id="model-check", max_instances=1, coalesce=True)
        self.scheduler.add_job(self.search.rebuild_if_needed, "interval",
                               seconds=self.config.index.check_interval_s, id="index-rebuild",
                               max_instances=1, coalesce=True)
        self.scheduler.start()

    @property
    def uses_model(self) -> bool:
        return any(s.name == "clip" for s in self.assembly.stages)

    def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self.watch:
            self.watcher.stop()
            self.debouncer.stop()
        self.pipeline.stop()
        with self._scan_lock:  # let a running scan commit its chunk before closing
            self.store.close()

    # ------------------------------------------------------------------ work
    def rescan(self, roots: list[str] | None = None) -> ScanReport | None:
        """Reconcile the store with the disk; a second concurrent call waits its turn."""
        with self._scan_lock:
            self.scan_state["running"] = True
            try:
                report = scan(self.store, roots or self.roots, self.config.library.extensions,
                              library_roots=self.roots)
            except Exception:
                log.exception("scan failed")
                return None
            finally:
                self.scan_state["running"] = False
            self.scan_state["last"] = {
                "finished_at": time.time(), "files": report.seen, "queued": report.queued,
                "removed": report.removed, "seconds": round(report.seconds, 3),
            }
            log.info("scan: %d files, %d queued, %d forgotten in %.2fs", report.seen,
                     report.queued, report.removed, report.seconds)
        self.pipeline.wake()
        return report

    def watch_new_roots(self) -> None:
        """A root that was missing (an unmounted disk) has appeared: watch it and scan it."""
        arrived = self.watcher.watch_new_arrivals()
        if arrived:
            log.info("library path(s) now present: %s", ", ".join(arrived))
            self.rescan(arrived)

    def set_library(self, paths: list[str]) -> list[str]:
        """Validate, persist and re-target the watcher; the rescan runs in the background."""
        roots = validate_library_paths(paths)
        with self.store.write() as w:
            w.set_setting(LIBRARY_SETTING, roots)
        self.roots, self.roots_source = roots, "api"
        if self.watch:
            self.watcher.set_roots(roots)
        self.scheduler.add_job(self.rescan, id="rescan-now", replace_existing=True)
        return roots

    def failures(self) -> list[dict[str, Any]]:
        return [
            {"path": r.path, "stage": r.fail_stage, "reason": r.fail_reason,
             "id": r.hash.hex() if r.hash else None}
            for r in self.store.failures()
        ]

    # ---------------------------------------------------------------- status
    def status(self) -> dict[str, Any]:
        return build_status(
            store=self.store,
            assembly=self.assembly,
            pipeline=self.pipeline,
            library={
                "paths": self.roots,
                "source": self.roots_source,
                "missing": [r for r in self.roots if not os.path.isdir(r)],
                "watching": self.watcher.watched if self.watch else [],
                "extensions": list(self.config.library.extensions),
            },
            extra={
                "version": __version__,
                "uptime_s": round(time.time() - self.started_at, 1),
                "config": self.config.source,
                "data_dir": str(self.config.data_dir),
                "scan": dict(self.scan_state),
                "model": self.models.status(),
                "index": self.search.status(),
                "evaluator": {"version": self.trainer.current.version
                              if self.trainer.current else None,
                              "training": self.trainer.status.get("state")},
            },
        )


def _now() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC)
