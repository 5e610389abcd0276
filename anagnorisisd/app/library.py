"""The library service: store, pipeline, watcher, scheduler and the features, wired
together once.

`serve`, the one-shot `index`, a `search` and a `status` with no daemon running all open
the library the same way (`Library.open`), so every query word answers alike whoever
asks. The HTTP layer and the CLI only ever talk to this class; the features (people,
text, concepts, ratings, culling, places, sidecars, and any third party's) are found
through their entry points and driven in a loop (app/features.py).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from anagnorisisd import __version__
from anagnorisisd.app.features import Features
from anagnorisisd.app.library_paths import disk_has_no_room, validate_library_paths
from anagnorisisd.app.previews import PreviewCache
from anagnorisisd.app.status import build_status
from anagnorisisd.config import Config
from anagnorisisd.events import (
    ContentChanged,
    FilesFinished,
    Hub,
    ModelReady,
    StageResult,
    WorkerDistrusted,
)
from anagnorisisd.feature import FeatureContext
from anagnorisisd.imaging import decoding, video
from anagnorisisd.ingest.debouncer import Debouncer
from anagnorisisd.ingest.scanner import ScanReport, normalise_root, scan
from anagnorisisd.ml.service import ModelService
from anagnorisisd.pipeline.registry import Assembly, assemble
from anagnorisisd.pipeline.runner import Pipeline
from anagnorisisd.search.service import SearchService
from anagnorisisd.stage import StageContext
from anagnorisisd.store.database import Store, StoreError, StoreFull
from anagnorisisd.store.instance import InstanceLock

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

    from anagnorisisd.ingest.watcher import LibraryWatcher

log = logging.getLogger(__name__)


def not_a_skipped_turn(record: logging.LogRecord) -> bool:
    """A job still running when its next turn comes (a 10-s index build checked every
    second) waits for itself by design (max_instances=1): no warning a second in the log."""
    return "maximum number of running instances" not in record.getMessage()


LIBRARY_SETTING = "library.paths"


class Library:
    """Everything the daemon does to a library, independent of how it is asked."""

    def __init__(self, config: Config, *, watch: bool = True, role: str | None = None,
                 eager_model: bool = True) -> None:
        self.config = config
        self.started_at = time.time()
        limits = config.limits
        decoding.configure(limits.max_pixels, limits.decode_budget_pixels,
                           limits.max_file_mb << 20)
        video.configure(limits.max_video_mb << 20, limits.max_video_seconds,
                        limits.max_pixels, limits.video_scenes)
        self.hub = Hub()
        """The one event hub: the parts publish, and only this class subscribes (wire)."""
        self.instance = InstanceLock(config.data_dir)
        if role is not None:
            try:
                self.instance.acquire(role)
            except OSError as exc:
                raise StoreError(f"cannot use the data directory {config.data_dir}: "
                                 f"{exc.strerror or exc}") from None
        self.read_only: str | None = None
        """Why the daemon serves without writing (a disk with no room at start), or None."""
        try:
            self.store = self._open_store(config, role)
        except BaseException:
            self.instance.release()
            raise
        # eager_model=False: a one-off text query loads the text graph only, never the image
        # graph (a second or more for the big models) that it does not use.
        self.models = ModelService(config, auto_pull=None if watch else False,
                                   eager_session=eager_model, hub=self.hub)
        self.assembly: Assembly = assemble(config, StageContext(config, self.models))
        self.pipeline = Pipeline(self.store, self.assembly, config.pipeline.queue_size,
                                 hub=self.hub)
        self.search = SearchService(self.store, self.models, config.data_dir / "index",
                                    config.index.text_limit,
                                    float(config.index.min_rebuild_interval_s),
                                    embedding_stage=self.assembly.provider("embedding"),
                                    metadata_stage=self.assembly.provider("metadata"),
                                    quality_stage=self.assembly.provider("quality"),
                                    thumbnail_stage=self.assembly.provider("thumbnail"),
                                    signals_stage=self.assembly.provider("face_quality"),
                                    catalog_file=config.data_dir / "cache" / "catalog.npz")
        self.search.index.n_trees = config.index.n_trees
        self.search.index.shard_bytes = config.index.build_memory_mb << 20
        self.search.index.search_k = config.index.search_k
        self.search.index.exact_below = config.index.exact_below
        self.search.language = config.model.language or None
        self.previews = PreviewCache(config.data_dir / "previews",
                                     config.server.preview_cache_mb << 20)
        self.role = role or "search"
        self.features = Features(config, self._feature_context)
        """Every feature that runs, found through its entry point (app/features.py)."""
        self.search.use_features(self.features.vocabulary, self.features.items)
        stored = self.store.get_setting(LIBRARY_SETTING)
        self.roots_source = "api" if stored is not None else "config"
        self.roots: list[str] = [normalise_root(p) for p in (stored or config.library.paths)]
        self.watch = watch and config.watcher.enabled
        self._made_lock = threading.Lock()
        self._watcher: LibraryWatcher | None = None
        self._scheduler: BackgroundScheduler | None = None
        self.debouncer = Debouncer(
            self.store, config.library.extensions, config.watcher.debounce_s,
            config.watcher.settle_s, self.pipeline.wake, roots=lambda: self.roots,
        )
        self._scan_lock = threading.Lock()
        self._started = False
        self._threads: list[threading.Thread] = []
        """Threads this object started itself, joined at stop."""
        self.loaded = threading.Event()
        """Set once the catalog, the index and every feature's data are read (load)."""
        self.wire()
        self.scan_state: dict[str, Any] = {"running": False, "last": None}

    @classmethod
    def open(cls, config: Config, role: str,
             beside: Callable[[Library], object] | None = None) -> Library:
        """The library as `role` uses it: "serve" (everything, watched), "index" (no
        watcher), "train", or "search" (no lock taken, no image model loaded, no
        watcher); then loaded, so its words answer as the daemon's do (load).

        `beside` runs on a thread of its own while the library loads, and is waited for:
        a one-off query loads its text model there, on the other core, rather than after
        the catalog (cli.main.offline_search)."""
        library = cls(config, watch=role == "serve",
                      role=role if role in ("serve", "index", "train") else None,
                      eager_model=role != "search")
        if role != "serve":  # the daemon loads on a thread after its port opens (start)
            helper = threading.Thread(target=beside, args=(library,), name="beside-load",
                                      daemon=True) if beside else None
            try:
                if helper is not None:
                    helper.start()
                library.load()
            except BaseException:
                library.stop()
                raise
            finally:
                if helper is not None:
                    helper.join()
        return library

    def _feature_context(self, name: str, section: dict[str, Any]) -> FeatureContext:
        return FeatureContext(
            config=self.config, store=self.store, catalog=self.search.catalog,
            search=self.search, hub=self.hub, models=self.models, stages=self.assembly,
            section=section, roots=lambda: self.roots,
            data_dir=self.config.data_dir / "features" / name, schedule=self.every,
            role=self.role, files_of=self.files_of)

    @property
    def watcher(self) -> LibraryWatcher:
        """Made when first used, by whichever thread asks first (the start, or the API
        setting the library): a one-off command never imports watchdog."""
        with self._made_lock:
            if self._watcher is None:
                from anagnorisisd.ingest.watcher import LibraryWatcher

                self._watcher = LibraryWatcher(self.debouncer)
            return self._watcher

    @property
    def scheduler(self) -> BackgroundScheduler:
        """Made when first used, as the watcher is: a one-off command never imports
        apscheduler."""
        with self._made_lock:
            if self._scheduler is None:
                from apscheduler.schedulers.background import BackgroundScheduler

                self._scheduler = BackgroundScheduler(daemon=True)
                logging.getLogger("apscheduler.scheduler").addFilter(not_a_skipped_turn)
            return self._scheduler

    def every(self, job: Callable[[], object], seconds: float, name: str) -> None:
        """Run `job` every `seconds` while the daemon runs (a feature's jobs, the core's)."""
        self.scheduler.add_job(job, "interval", seconds=seconds, id=name, max_instances=1,
                               coalesce=True)

    def wire(self) -> None:
        """The core's own subscriptions; each feature subscribes itself (Feature.subscribe).
        Who hears what is in one place per unit."""
        hub, search = self.hub, self.search
        hub.subscribe(ContentChanged, lambda e: search.on_content(e.born, e.died),
                      "search: contents born and died")
        hub.subscribe(StageResult, lambda e: search.on_result(e.stage, e.content, e.output),
                      "search: catalog and index")
        hub.subscribe(FilesFinished, lambda e: search.catalog.on_finished(e.done),
                      "catalog: failed files")
        # The runner notices a new version itself (it polls every stage); this only wakes it.
        hub.subscribe(ModelReady, lambda e: self.pipeline.wake(), "pipeline: wake")
        for lane in self.pipeline.lanes:  # OCR and the like: the newest photos first
            lane.order = search.catalog.newest_first
        hub.subscribe(ModelReady, lambda e: search.on_model_ready(), "search: the model's index")
        hub.subscribe(WorkerDistrusted, lambda e: self._redo_later(e.url, e.since),
                      "redo what a lying worker sent")
        self.features.subscribe(hub)

    def _redo_later(self, url: str, since: float) -> None:
        thread = threading.Thread(target=self.redo_from_worker, args=(url, since),
                                  name="redo-distrusted", daemon=True)
        self._threads.append(thread)
        thread.start()

    def _open_store(self, config: Config, role: str | None) -> Store:
        """The store, for writing; when the disk has no room even to open it so, the daemon
        (`serve` only) opens it read-only, says why, and serves search and the panel."""
        if role != "serve" or not disk_has_no_room(config.data_dir):
            return Store(config.data_dir, config.storage.map_size_gb, hub=self.hub)
        store = Store(config.data_dir, config.storage.map_size_gb, readonly=True, lock=False,
                      hub=self.hub)
        self.read_only = (f"the disk holding {config.data_dir} has no room: the library is "
                          "shown read-only (no indexing, no ratings saved) until there is "
                          "space and the daemon is restarted")
        store.full = self.read_only
        log.error("%s", self.read_only)
        return store

    # --------------------------------------------------------------- lifecycle
    def start(self) -> None:
        self._started = True
        loading = threading.Thread(target=self.load, name="library-load", daemon=True)
        self._threads.append(loading)
        loading.start()
        if self.read_only:  # nothing that writes: the catalog, the index and the model only
            if self.uses_model:
                self.models.load_in_background()
            return
        self.pipeline.start()
        if self.uses_model:
            self.models.load_in_background()
        if self.watch:
            self.debouncer.start()
            self.watcher.set_roots(self.roots)
        sched = self.config.scheduler
        # the first scan runs however late the scheduler starts (the features start first,
        # and a slow one must not make apscheduler skip it as a missed run)
        self.scheduler.add_job(self.rescan, "interval", seconds=sched.rescan_interval_s,
                               id="rescan", max_instances=1, coalesce=True,
                               next_run_time=_now(), misfire_grace_time=None)
        if self.watch:
            self.every(self.check_roots, sched.missing_root_check_s, "roots")
        self.every(self.models.unload_idle, 30, "model-idle")
        if self.uses_model:
            self.every(self.models.recheck, sched.model_check_s, "model-check")
        self.every(self.search.refresh_pairs, self.config.index.check_interval_s, "pairs")
        self.every(self.search.rebuild_if_needed, self.config.index.check_interval_s,
                   "index-rebuild")
        self.features.start()
        self.scheduler.start()

    def load(self) -> None:
        """The catalog and the index, then every feature's data (Feature.load), read from
        the store; `loaded` is set when all are in, and until then the HTTP layer answers
        503 rather than a wrong 404 or an empty list (http.readiness)."""
        try:
            self.search.start()
            if self.role != "search":  # a one-off query makes objects only of what it shows
                self.search.catalog.thaw()
            self.features.load()
            if self.role == "serve":  # what was read lives as long as the daemon: out of
                gc.freeze()  # the collector's full passes (0.1-0.3 s of the interpreter lock
                # every few seconds at 100,000 photos, walking them and freeing nothing)
        finally:
            self.loaded.set()

    @property
    def uses_model(self) -> bool:
        return self.assembly.provider("embedding") is not None

    def stop(self, timeout: float = 10.0) -> None:
        """Stop what runs and join it, then close the store: the scheduler (waiting for a
        job in hand), the watcher, the features (each joins its own threads), the
        pipeline. The watcher runs only after start() (`serve` on a taken port stops a
        library it never started)."""
        deadline = time.monotonic() + timeout
        self.search.index.stop_builds()  # an index build in a child would hold the job up
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        if self.watch and self._started and not self.read_only:
            self.watcher.stop()
            self.debouncer.stop()
        self.models.close()  # items waiting for a remote worker give up first
        self.features.stop(max(1.0, deadline - time.monotonic()))
        self.pipeline.stop(max(1.0, deadline - time.monotonic()))
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._scan_lock:  # let a running scan commit its chunk before closing
            if self.loaded.is_set() and not self.read_only:  # the next command's catalog
                self.search.catalog.save()
            self.store.close()
        self.instance.release()

    # ------------------------------------------------------------------ work
    def rescan(self, roots: list[str] | None = None) -> ScanReport | None:
        """Reconcile the store with the disk; a second concurrent call waits its turn."""
        with self._scan_lock:
            self.scan_state["running"] = True
            try:
                report = scan(self.store, roots or self.roots, self.config.library.extensions,
                              library_roots=self.roots)
            except StoreFull as exc:
                log.warning("scan stopped: %s", exc)
                return None
            except Exception:
                log.exception("scan failed")
                return None
            finally:
                self.scan_state["running"] = False
            self.scan_state["last"] = {
                "finished_at": time.time(), "files": report.seen, "queued": report.queued,
                "removed": report.removed, "skipped": report.skipped,
                "seconds": round(report.seconds, 3),
            }
            log.info("scan: %d files, %d queued, %d forgotten, %d skipped in %.2fs",
                     report.seen, report.queued, report.removed, report.skipped, report.seconds)
        self.pipeline.wake()
        return report

    def check_roots(self) -> None:
        """A root that appeared (a disk mounted), or was replaced (a folder deleted and
        restored), is watched afresh and scanned; one that went is watched for."""
        arrived = self.watcher.refresh()
        if arrived:
            log.info("library path(s) now present: %s", ", ".join(arrived))
            self.rescan(arrived)

    def set_library(self, paths: Any) -> list[str]:
        """Validate, persist and re-target the watcher; the rescan runs in the background."""
        roots = validate_library_paths(paths, require_absolute=True,
                                       data_dir=os.path.realpath(self.config.data_dir))
        with self.store.write() as w:
            w.set_setting(LIBRARY_SETTING, roots)
        self.roots, self.roots_source = roots, "api"
        if self.watch:
            self.watcher.set_roots(roots)
        self.scheduler.add_job(self.rescan, id="rescan-now", replace_existing=True,
                               misfire_grace_time=None)
        return roots

    def redo_from_worker(self, url: str, since: float) -> int:
        """A remote worker was caught answering with wrong vectors: every embedding it sent
        since its last passed check is marked stale and its files queued, so the next pass
        embeds them again (elsewhere). Returns how many contents were queued again."""
        stage = self.assembly.provider("embedding")
        if stage is None:
            return 0
        suspect = [c for c in self.store.live_hashes()
                   if (out := self.store.get_result(c, stage)) is not None
                   and out.get("worker") == url and float(out.get("at", 0)) >= since]
        try:
            with self.store.write() as w:
                for content in suspect:
                    w.put_result(content, stage, "distrusted", None, None)
                    for path in w.paths_for(content):
                        w.requeue(path)
        except StoreError as exc:
            log.error("could not queue %d images from %s again: %s", len(suspect), url, exc)
            return 0
        for content in suspect:
            self.search.index.discard(content)
        log.warning("embedding %d image(s) again that %s sent since its last check",
                    len(suspect), url)
        self.pipeline.wake()
        return len(suspect)

    def failures(self) -> list[dict[str, Any]]:
        """Every file that failed a stage, and every entry that was skipped, with why."""
        failed = [
            {"path": r.path, "stage": r.fail_stage, "reason": r.fail_reason,
             "id": r.hash.hex() if r.hash else None}
            for r in self.store.failures()
        ]
        skipped: list[dict[str, Any]] = [
            {"path": path, "stage": "scan", "reason": reason, "id": None}
            for path, reason in sorted(self.store.skipped_entries())]
        return failed + skipped

    # ---------------------------------------------------------------- status
    def files_of(self, content: bytes) -> list[str]:
        """Every file that is this photo: its own paths, then its RAW twin's (a pair)."""
        return sorted(self.store.paths_for(content)) + sorted(
            path for raw in self.search.catalog.twins(content)
            for path in self.store.paths_for(raw))

    def status(self) -> dict[str, Any]:
        doc = self._core_status()
        doc.update(self.features.status(doc))  # each feature's keys ("people", "words"...)
        return doc

    def _core_status(self) -> dict[str, Any]:
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
                "store": {"full": self.store.full, "read_only": self.read_only},
                "requeued_mid_stage": self.pipeline.requeued_mid_stage,
                "loaded": self.loaded.is_set(),
                "features": self.features.summary(),
            },
        )


def _now() -> Any:
    import datetime as dt

    return dt.datetime.now(dt.UTC)
