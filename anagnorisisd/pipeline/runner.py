"""The runner: a feeder, one thread group per stage, and a sink, joined by bounded queues.

Shape borrowed from beets' pipeline: each stage is a thread pulling batches
from its inbox and pushing to the next stage's inbox. The queues are bounded,
so a slow stage pushes back on the ones before it and memory stays flat no
matter how large the library is. The durable queue is the store's ``dirty``
table; what is in these in-memory queues can be lost at any time (crash,
shutdown) and will simply be fed again on the next start.

Two rules keep failures honest, for built-in and third-party stages alike:

- After a stage has run, the file is looked at again (one ``stat``). If it
  vanished, its record is forgotten; if it changed, it is queued again under
  its current state. Either way nothing is recorded against the content, since
  what the stage read may not have been that content. A failure is recorded
  only for a file that stood still while it was read.
- Once the daemon is stopping, no failure is recorded: a decode cut short by
  the shutdown says nothing about the file.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from anagnorisisd.events import FilesFinished, Hub, StageResult
from anagnorisisd.imaging.video import is_video
from anagnorisisd.pipeline.background import BackgroundLane
from anagnorisisd.pipeline.feeder import Feeder
from anagnorisisd.pipeline.isolation import run_isolated, storable_all
from anagnorisisd.pipeline.meter import RateMeter
from anagnorisisd.pipeline.pixels import FilePixels
from anagnorisisd.pipeline.plan import Item, StagePlan, still_as_fed
from anagnorisisd.pipeline.queues import WAKE, take_batch
from anagnorisisd.pipeline.registry import Assembly
from anagnorisisd.pipeline.video_lane import VideoLane
from anagnorisisd.stage import Stage, StageInput
from anagnorisisd.store.database import Store, StoreFull

log = logging.getLogger(__name__)
RETRY_AFTER_S = 1.0
FULL_RECHECK_S = 5.0
STAGE_CHECK_S = 1.0



class Pipeline:
    """Moves every dirty file through the assembled stages until it is done or failed."""

    def __init__(self, store: Store, assembly: Assembly, queue_size: int = 64,
                 hub: Hub | None = None) -> None:
        self.store = store
        self.stages = assembly.stages
        self.plan = StagePlan(store, self.stages)
        store.sidecar_stages = tuple(s.name for s in self.stages if s.reads_sidecars)
        self.queue_size = queue_size
        self.inboxes: list[queue.Queue[Item]] = [
            queue.Queue(maxsize=queue_size) for _ in range(len(self.stages) + 1)
        ]
        self.meters = {s.name: RateMeter() for s in self.stages}
        self.finished = RateMeter()
        self._in_flight: set[str] = set()
        self._deferred: dict[str, float] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._stage_threads: dict[str, list[threading.Thread]] = {}
        self.hub = hub or store.hub
        """Told StageResult for every output committed and FilesFinished for every file
        that left the pipeline, after the commit."""
        self.requeued_mid_stage = 0  # files that changed or vanished while a stage read them
        self._stage_state: tuple[tuple[str, str, bool], ...] = ()
        self._next_stage_check = 0.0
        self.lanes = [BackgroundLane(store, self.plan, s, self.hub, self.is_idle)
                      for s in self.stages if s.background]  # OCR: run while this is idle
        for lane in self.lanes:
            self.meters[lane.stage.name] = lane.meter
        self.video_lane = VideoLane(self)
        self._solo = {s.name: threading.Lock() for s in self.stages if s.workers <= 1}
        """A stage that asked for one worker is entered by one thread at a time, the video
        lane's included."""

    # --------------------------------------------------------------- control
    def start(self) -> None:
        if not self.stages:
            return
        self.refresh_versions()
        self._spawn(Feeder(self).run, "feeder")
        for index, stage in enumerate(self.stages):
            for n in range(max(1, stage.workers)):
                thread = self._spawn(functools.partial(self._work, index),
                                     f"stage-{stage.name}-{n}")
                self._stage_threads.setdefault(stage.name, []).append(thread)
        self._spawn(self._sink, "sink")
        for lane in self.lanes:
            lane.start()
        self.video_lane.start()

    def _spawn(self, target: Callable[[], None], name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def refresh_versions(self) -> int:
        """Adopt the stages' current versions and queue whatever content lacks them.

        Runs at start and whenever a stage's version changes at run time (a
        model finished downloading); returns how many files were queued.
        """
        content_stages = [s for s in self.stages if not s.keys_content]
        ready = [s.name for s in content_stages if self.plan.ready(s)]  # may set versions
        self.store.set_stage_versions({s.name: s.version for s in content_stages})
        queued = self.store.requeue_outdated([s.name for s in content_stages
                                              if not s.background and s.name in ready])
        self.wake()
        for lane in self.lanes:
            lane.wake()
        return queued

    def run_sequential(self, max_rounds: int = 10_000) -> int:
        """Process everything queued, in this thread, until nothing more can be done; return
        how many files were finished.

        The same stages under the same rules as the threaded runner, one batch at a time
        and no threads (beets' ``run_sequential``): tests and tools can check a pipeline
        without starting a daemon. Files a stage asks to retry later are left queued."""
        self.refresh_versions()
        finished = 0
        for _ in range(max_rounds):
            items: list[Item] = []
            for path in self.store.dirty_paths(limit=256):
                record = self.store.get_file(path)
                if record is not None and self.claim(path):
                    items.append(Item(path, record.gen, record.hash, (record.size,
                                                                      record.mtime_ns)))
            if not items:
                break
            done = self.run_through(items)
            finished += done
            if not done and not any(True for _ in self.store.dirty_paths(limit=1)):
                break
        for lane in self.lanes:
            lane.drain()
        return finished

    def run_through(self, items: list[Item], warm: bool = False) -> int:
        """Take claimed files through every stage in this thread and finish them; return
        how many finished. With `warm`, a file's pixels are decoded before a stage that
        reads them is entered (the video lane: a clip's look holds no stage's lock)."""
        for stage in self.stages:
            if warm and items and self.plan.pixel_need(stage) is not None:
                for item in items:
                    if self.plan.needs(stage, item):
                        with contextlib.suppress(Exception):  # the stage meets it and says so
                            self._inputs_for(stage, item).pixels()
            items = self._run_stage(stage, items) if items else []
        finished = 0
        with self.store.write() as w:
            for item in items:
                finished += w.finish(item.path, item.gen, item.failure)
        self._tell_finished(items)
        for item in items:
            self.release(item.path)
        return finished

    def _tell_finished(self, items: list[Item]) -> None:
        done = [(item.content_hash, item.failure is not None) for item in items
                if item.content_hash is not None]
        self.hub.publish(FilesFinished(done))

    def wake(self) -> None:
        """Say that new work may be queued in the store."""
        self._wake.set()

    def wait_for_work(self, timeout: float) -> None:
        """The feeder, with nothing to feed: until woken (new work, a stop) or `timeout`."""
        self._wake.wait(timeout)
        self._wake.clear()

    @property
    def stopping(self) -> threading.Event:
        return self._stop

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the batches in hand are committed; the rest stays queued in the store.

        Threads waiting for work are woken at once (a wake-up in every queue), and a stage
        is closed only once its own threads have returned: a stage still inside `process`
        at the deadline is left open (the process is ending) rather than closed under it."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        lanes_done = {lane.stage.name: lane.stop(max(0.0, deadline - time.monotonic()))
                      for lane in self.lanes}
        videos_done = self.video_lane.stop(max(0.0, deadline - time.monotonic()))
        readers = [max(1, stage.workers) for stage in self.stages] + [1]  # the sink reads last
        for inbox, count in zip(self.inboxes, readers, strict=True):
            for _ in range(count + 1):  # one for every thread that reads this queue
                try:
                    inbox.put_nowait(WAKE)
                except queue.Full:  # a full queue has work to hand out: its readers look
                    break           # at the stop flag after the batch
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for stage in self.stages:
            running = [t.name for t in self._stage_threads.get(stage.name, []) if t.is_alive()]
            if not lanes_done.get(stage.name, True):
                running.append(f"background-{stage.name}")
            if not videos_done:
                running.append("video-lane")
            if running:
                log.warning("stage %s still busy in %s at shutdown; not closed under it",
                            stage.name, ", ".join(running))
                continue
            try:
                stage.close()
            except Exception:
                log.exception("stage %s failed to close", stage.name)

    def in_flight(self) -> int:
        with self._lock:
            return len(self._in_flight)

    def photos_queued(self) -> bool:
        """Whether photos are on their way through the stages (the video lane lets them go
        first)."""
        with self._lock:
            return any(not is_video(path) for path in self._in_flight)

    def is_idle(self) -> bool:
        return not self.stages or (self.in_flight() == 0 and self.store.dirty_count() == 0)

    # ---------------------------------------------------------------- feeder
    def stage_state(self) -> tuple[tuple[str, str, bool], ...]:
        """Each content stage's version and readiness: what decides what must be (re)done."""
        out = []
        for stage in self.stages:
            if stage.keys_content:
                continue
            try:
                ready = bool(self.plan.ready(stage))
            except Exception:  # a plugin's readiness hook must not stop the feeder
                log.exception("stage %s: ready() failed", stage.name)
                ready = False
            out.append((stage.name, stage.version, ready))
        return tuple(out)

    def watch_stages(self) -> None:
        """Re-queue when any stage's version or readiness changed since the last look.

        Polled by the feeder, so it works for every stage, whatever told it to change (a
        model that finished downloading, a plugin that found its server), and whatever
        order anyone's listeners were registered in."""
        now = time.monotonic()
        if now < self._next_stage_check:
            return
        self._next_stage_check = now + STAGE_CHECK_S
        state = self.stage_state()
        if state != self._stage_state:
            self._stage_state = state
            queued = self.refresh_versions()
            log.info("stage versions or readiness changed; %d files queued", queued)

    def claim(self, path: str) -> bool:
        with self._lock:
            if path in self._in_flight:
                return False
            retry_at = self._deferred.get(path)
            if retry_at is not None:
                if time.monotonic() < retry_at:
                    return False
                del self._deferred[path]
            self._in_flight.add(path)
            return True

    def release(self, path: str, defer: bool = False) -> None:
        with self._lock:
            self._in_flight.discard(path)
            if defer:
                self._deferred[path] = time.monotonic() + RETRY_AFTER_S

    def put(self, index: int, item: Item) -> None:
        while not self._stop.is_set():
            try:
                self.inboxes[index].put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    # ---------------------------------------------------------------- stages
    def _work(self, index: int) -> None:
        stage = self.stages[index]
        while not self._stop.is_set():
            batch = take_batch(self.inboxes[index], max(1, stage.batch_size))
            if not batch:
                continue
            try:
                forward = self._run_stage(stage, batch)
            except StoreFull as exc:  # paused until there is room; the files stay queued
                log.warning("indexing paused: %s", exc)
                for item in batch:
                    self.release(item.path)
                self._stop.wait(FULL_RECHECK_S)
                continue
            except Exception:  # a bug in the runner or store: keep the files queued, carry on
                log.exception("stage %s: batch could not be recorded", stage.name)
                for item in batch:
                    self.release(item.path, defer=True)
                self._stop.wait(RETRY_AFTER_S)
                continue
            for item in forward:
                self.put(index + 1, item)

    def _inputs_for(self, stage: Stage, item: Item) -> StageInput:
        inputs: dict[str, dict[str, Any]] = {}
        for required in stage.requires:
            output = item.outputs.get(required)
            if output is None and item.content_hash is not None:
                output = self.store.get_result(item.content_hash, required)
            inputs[required] = output or {}
        if item.pixels is None:  # nothing decoded until a stage asks for pixels
            index = self.stages.index(stage)
            item.pixels = FilePixels(item.path, functools.partial(self.plan.needs_after, index,
                                                                  item))
        return StageInput(item.path, item.content_hash, inputs, item.carried,
                          source=item.pixels, need=self.plan.pixel_need(stage))

    def _run_stage(self, stage: Stage, batch: list[Item]) -> list[Item]:
        todo = [item for item in batch if self.plan.needs(stage, item)]
        if todo and not self.store.room_for_bulk():  # before the work, not after it
            raise StoreFull(self.store.full or "the store is full")
        with self._solo.get(stage.name) or contextlib.nullcontext():
            outputs = run_isolated(stage, [self._inputs_for(stage, i) for i in todo]) \
                if todo else []
        outputs, packed = (outputs, [None] * len(outputs)) if stage.keys_content else \
            storable_all(stage.name, outputs)
        chosen = {id(item) for item in todo}
        forward = [item for item in batch if id(item) not in chosen]
        stopping = self._stop.is_set()
        with self.store.write() as w:
            for item, out, data in zip(todo, outputs, packed, strict=True):
                if out is not None and out.retry is not None:
                    if not os.path.lexists(item.path):
                        w.remove(item.path, gen=item.gen)
                    self.release(item.path, defer=True)
                    continue
                if out is None or (stopping and out.error is not None):
                    self.release(item.path, defer=not stopping)
                    continue
                if still_as_fed(item, out, stage.keys_content) is None:
                    self._requeue_moved(w, item)
                    continue
                if stage.keys_content:
                    if out.error is not None or out.output is None:
                        item.note_failure(stage.name, out.error or "no output")
                    else:
                        item.content_hash = bytes(out.output["hash"])
                        item.stat = (int(out.output["size"]), int(out.output["mtime_ns"]))
                        if not w.set_hash(item.path, item.gen, item.content_hash,
                                          out.output["size"], out.output["mtime_ns"]):
                            self.release(item.path)  # the file changed or went meanwhile
                            continue
                else:
                    assert item.content_hash is not None
                    w.put_result(item.content_hash, stage.name, stage.version, out.output,
                                 out.error, data)
                    if out.error is not None:
                        item.note_failure(stage.name, out.error)
                    elif out.output is not None:
                        item.outputs[stage.name] = out.output
                        if out.carry:
                            item.carried.update(out.carry)
                forward.append(item)
        self.meters[stage.name].add(len(todo))
        index = self.stages.index(stage)
        for item in forward:  # pixels no stage still to run reads are let go at once
            if item.pixels is not None and item.pixels.holding and not self.plan.needs_after(
                    index, item):
                item.pixels.release()
        if not stage.keys_content:
            for item, out in zip(todo, outputs, strict=True):
                if out is not None and out.output is not None and item.content_hash:
                    self.hub.publish(StageResult(stage.name, item.content_hash, out.output))
        return forward

    def _requeue_moved(self, w: Any, item: Item) -> None:
        """The file changed or vanished while the stage read it: nothing is recorded against
        the content. A changed file is queued again as it is now; a vanished one is forgotten
        (a rename's new path arrives by the watcher or the next scan)."""
        try:
            st = os.stat(item.path)
        except OSError:
            w.remove(item.path, gen=item.gen)
        else:
            record = w.file(item.path)
            if record is not None and record.gen == item.gen:
                w.seen(item.path, st.st_size, st.st_mtime_ns)
        self.requeued_mid_stage += 1
        self.release(item.path)

    # ------------------------------------------------------------------ sink
    def _sink(self) -> None:
        index = len(self.stages)
        while not self._stop.is_set():
            batch = take_batch(self.inboxes[index], 256)
            if not batch:
                continue
            try:
                with self.store.write() as w:
                    for item in batch:
                        w.finish(item.path, item.gen, item.failure)
                self._tell_finished(batch)
            except StoreFull as exc:  # the files stay queued, and pass quickly next time
                log.warning("indexing paused: %s", exc)
                self._stop.wait(FULL_RECHECK_S)
            except Exception:
                log.exception("could not record finished files")
            for item in batch:
                self.release(item.path)
            self.finished.add(len(batch))
