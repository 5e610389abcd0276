"""The background lane: a stage too dear to run in the pipeline's stride (OCR, at a second
or two a photo) runs here, after every other stage has finished for the library.

In the threaded pipeline, each stage holds the ones before it back through the bounded
queues, so a stage twenty times slower than the rest would set the pace for all. A stage
that declares ``background = True`` is therefore passed by on every file's trip, and this
lane gives it the library's content one piece at a time, only while the pipeline has
nothing else to do (no file queued or in flight), on a thread of lower CPU priority
(nice +10 on Linux, inherited by the ONNX Runtime threads its model makes there). A photo
that arrives meanwhile is indexed at full speed: the lane stops after the photo in hand
and resumes when the pipeline is idle again.

The rules are the pipeline's: the same decode path (at the stage's declared size), a
failure recorded only for a file that stood still while it was read, "later" for a worker
that was down, the same StageResult events, and nothing recorded while stopping. Work
lives in the store (content without the stage's current mark), so a kill loses at most
the photo in hand.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from anagnorisisd.events import Hub, StageResult
from anagnorisisd.pipeline.isolation import run_isolated, storable
from anagnorisisd.pipeline.meter import RateMeter
from anagnorisisd.pipeline.pixels import FilePixels
from anagnorisisd.pipeline.plan import StagePlan
from anagnorisisd.stage import PixelNeed, Stage, StageInput
from anagnorisisd.store.database import Store, StoreFull

log = logging.getLogger(__name__)
IDLE_CHECK_S = 0.5
RETRY_AFTER_S = 30.0
MAX_DEFER_S = 3600.0
FULL_RECHECK_S = 5.0
NICE = 10


def lower_this_thread() -> None:
    """Nice the calling thread alone (Linux keeps a nice value per thread): work nobody waits
    for leaves the cores to work somebody does."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)


class BackgroundLane:
    """One background stage, fed from the store while the pipeline is idle."""

    def __init__(self, store: Store, plan: StagePlan, stage: Stage, hub: Hub,
                 pipeline_idle: Callable[[], bool]) -> None:
        self.store = store
        self.plan = plan
        self.stage = stage
        self.hub = hub
        self.pipeline_idle = pipeline_idle
        self.meter = RateMeter()
        self.paused_for_pipeline = False
        self._deferred: dict[bytes, float] = {}
        self._backoff: dict[bytes, float] = {}
        self.full: str | None = None
        """Why the lane is paused for a full store or disk, while it is (said once)."""
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.order: Callable[[], Iterable[bytes]] | None = None
        """The library's content, newest photo first (by when it was taken, set by the app
        once its catalog is read): what the lane goes through first. Content not listed
        there follows in the store's order."""

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"background-{self.stage.name}",
                                        daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float) -> bool:
        """Stop after the photo in hand; True if the thread has returned."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _run(self) -> None:
        lower_this_thread()
        while not self._stop.is_set():
            did = 0
            self.paused_for_pipeline = not self.pipeline_idle()
            try:
                for content in self.todo():
                    if self._stop.is_set():
                        return
                    if not self.pipeline_idle():
                        self.paused_for_pipeline = True
                        break
                    self.paused_for_pipeline = False
                    did += self.guarded(content)
            except StoreFull as exc:  # said once, like the pipeline's stages; then it waits
                if self.full is None:
                    log.warning("background stage %s paused: %s", self.stage.name, exc)
                self.full = str(exc)
                self._stop.wait(FULL_RECHECK_S)
                continue
            except Exception:  # a bug must not kill the lane: log, wait, carry on
                log.exception("background stage %s", self.stage.name)
            if did:
                self.full = None
            if not did:
                self._wake.wait(IDLE_CHECK_S)
                self._wake.clear()

    def guarded(self, content: bytes) -> int:
        """run_one, but a photo whose work raised (a bug, a store that refused its result)
        is put aside for a while that doubles each time, up to an hour, and said once: the
        lane goes on with the next photo and never retries one in a tight loop. A full
        store or disk is the lane's trouble, not the photo's: it propagates."""
        try:
            done = self.run_one(content)
        except StoreFull:
            raise
        except Exception:
            wait = min(MAX_DEFER_S, 2 * self._backoff.get(content, RETRY_AFTER_S / 2))
            if content not in self._backoff:
                log.exception("background stage %s: photo %s put aside for %g s",
                              self.stage.name, content.hex()[:12], wait)
            self._backoff[content] = wait
            self._deferred[content] = time.monotonic() + wait
            return 0
        self._backoff.pop(content, None)
        return done

    def drain(self) -> int:
        """Run the stage on everything it lacks, in this thread (run_sequential's lane)."""
        return sum(self.run_one(content) for content in list(self.todo()))

    def pending(self) -> bool:
        return next(iter(self.todo()), None) is not None

    def todo(self) -> Iterator[bytes]:
        """Live content without the stage's current mark, whose inputs are recorded."""
        if not self.plan.ready(self.stage) or self._all_done():
            return
        now = time.monotonic()
        version = self.stage.version
        for content in self.candidates():
            if self._deferred.get(content, 0.0) > now:
                continue
            mark = self.store.get_mark(content, self.stage.name)
            if mark is not None and mark.version == version:
                continue
            names = [self.plan.provider.get(key, key) for key in self.stage.requires]
            inputs = [self.store.get_mark(content, name) for name in names]
            if any(m is None for m in inputs):
                continue  # its inputs are still to come
            failed = next((name for name, m in zip(names, inputs, strict=True)
                           if m is not None and (m.error or m.blocked)), None)
            if failed is not None:  # nothing to read: not pending here either
                self._block(content, failed)
                continue
            yield content

    def _all_done(self) -> bool:
        """Whether every live content has the stage's current mark, by the store's census
        (exact after every commit): the lane looks for work every half second, and going
        through 100,000 photos' marks to find none would keep a core busy while idle."""
        name = self.stage.name
        if self.store.stage_versions.get(name) != self.stage.version:
            return False  # a new version not adopted yet: the census counts the old one
        c = self.store.census_snapshot()
        return c.live_content <= c.stage_done[name] + c.stage_failed[name] + \
            c.stage_blocked[name]

    def candidates(self) -> Iterator[bytes]:
        """Every live content once: the newest photos first, then any the order lacks."""
        listed: set[bytes] = set()
        if self.order is not None:
            for content in self.order():
                listed.add(content)
                if self.store.is_live(content):  # the order may lag a deletion
                    yield content
        for content in self.store.live_hashes():
            if content not in listed:
                yield content

    def _block(self, content: bytes, failed: str) -> None:
        with self.store.write() as w:
            w.put_result(content, self.stage.name, self.stage.version, None, None,
                         blocked=failed)

    def run_one(self, content: bytes) -> int:
        """Read one content at one of its paths; 1 if something was recorded."""
        if not self.store.room_for_bulk():  # before the work, as the pipeline's stages
            raise StoreFull(self.store.full or "the store is full")
        paths = self.store.paths_for(content)
        if not paths:
            return 0
        path = paths[0]
        record = self.store.get_file(path)
        if record is None or record.hash != content:
            return 0
        need = self.plan.pixel_need(self.stage) or PixelNeed()
        pixels = FilePixels(path, lambda: [need])
        inputs = {key: self.store.get_result(content, self.plan.provider.get(key, key)) or {}
                  for key in self.stage.requires}
        item = StageInput(path, content, inputs, source=pixels, need=need)
        try:
            outputs = run_isolated(self.stage, [item])
        finally:
            pixels.release()
        out = outputs[0] if outputs else None
        if out is None or out.retry is not None or (self._stop.is_set() and out.error):
            self._deferred[content] = time.monotonic() + RETRY_AFTER_S
            return 0
        try:
            st = os.stat(path)
        except OSError:
            return 0  # gone meanwhile: the watcher forgets it
        if (st.st_size, st.st_mtime_ns) != (record.size, record.mtime_ns):
            return 0  # changed while it was read: its new content comes through the pipeline
        ready = storable(self.stage.name, out)  # a worker's poisoned text fails its photo
        out, packed = ready if ready is not None else (out, None)
        with self.store.write() as w:
            w.put_result(content, self.stage.name, self.stage.version, out.output, out.error,
                         packed)
        self.meter.add(1)
        if out.output is not None:
            self.hub.publish(StageResult(self.stage.name, content, out.output))
        return 1
