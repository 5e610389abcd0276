"""The video lane: clips go through the same stages as photos, one at a time, on a thread of
their own at lower CPU priority, so a photo never waits behind a long video.

A video costs a hundred photos' work (its frames are looked at to find its scenes, and each
scene is embedded); in the pipeline's shared queues, one clip in a stage's hands would hold
every photo queued behind it. So the feeder hands videos here instead (``offer``, which
refuses when the lane is full: the video stays queued in the store for the next pass),
and this thread takes each through every stage in order, by the pipeline's own rules
(``Pipeline.run_through``: the same commit, the same "looked at again after each stage").
Its decode happens here, before any stage that reads pixels is entered, so a stage that
runs one batch at a time is never held by a clip's look. While photos are queued, a clip
waits its turn (up to PATIENCE_S after the last one), and the lane runs at nice +10
(inherited by FFmpeg's threads made here): it takes the CPU the photos leave.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
import time
from typing import TYPE_CHECKING

from anagnorisisd.pipeline.meter import RateMeter
from anagnorisisd.pipeline.plan import Item

if TYPE_CHECKING:
    from anagnorisisd.pipeline.runner import Pipeline

log = logging.getLogger(__name__)
NICE = 10
SIZE = 2
RETRY_S = 1.0
PATIENCE_S = 20.0
"""While photos are queued, a video starts at most this long after the last one ended: the
photos go first, and the clips still move."""


class VideoLane:
    """Videos, one at a time, through the pipeline's stages."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.inbox: queue.Queue[Item | None] = queue.Queue(maxsize=SIZE)
        self.meter = RateMeter()
        self.current: str | None = None
        """The video in hand, for status."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last = time.monotonic()

    def offer(self, item: Item) -> bool:
        """Take a video if there is room; False leaves it to the next pass of the feeder."""
        try:
            self.inbox.put_nowait(item)
        except queue.Full:
            return False
        return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="video-lane", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Stop after the video in hand; True if the thread has returned."""
        self._stop.set()
        with contextlib.suppress(queue.Full):
            self.inbox.put_nowait(None)
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        with contextlib.suppress(AttributeError, OSError):  # not Linux, or not allowed
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        while not self._stop.is_set():
            item = self.inbox.get()
            if item is None:
                continue
            while self.pipeline.photos_queued() and not self._stop.is_set() and \
                    time.monotonic() - self._last < PATIENCE_S:
                self._stop.wait(0.2)
            self.current = item.path
            try:
                self.pipeline.run_through([item], warm=True)
                self.meter.add(1)
            except Exception as exc:  # the store is full, or a bug: keep it queued
                log.warning("video %s left queued: %s", item.path, exc)
                self.pipeline.release(item.path, defer=True)
                self._stop.wait(RETRY_S)
            finally:
                self.current = None
                self._last = time.monotonic()
        while True:  # what is still waiting stays queued in the store
            try:
                left = self.inbox.get_nowait()
            except queue.Empty:
                return
            if left is not None:
                self.pipeline.release(left.path)

    def status(self) -> dict[str, object]:
        return {"waiting": self.inbox.qsize(), "current": self.current,
                "per_minute": round(self.meter.rate() * 60, 1)}
