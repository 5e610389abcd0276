"""The feeder: takes queued files from the store, newest first, and hands them to the first
stage (or a clip to the video lane).

The store keeps the queue in date order (``Store.queued``), so on a first indexing the
photos a person is most likely to look for are searchable first, and every stage after the
first sees them in that order (the queues between stages keep it). The feeder walks the
queue in passes; files in flight or put aside for a moment are passed over, and a pass
starts again from the top as soon as something newer than where it stands is queued (a
photo taken now is not kept waiting behind a pass through ten years of them).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from anagnorisisd.imaging.video import is_video
from anagnorisisd.pipeline.plan import Item
from anagnorisisd.store.records import PENDING

if TYPE_CHECKING:
    from anagnorisisd.pipeline.runner import Pipeline

log = logging.getLogger(__name__)
BATCH = 128
FULL_RECHECK_S = 5.0
IDLE_WAIT_S = 0.5


class Feeder:
    """One pass after another over the store's queue, newest first."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.cursor = b""
        """The queue key of the last file looked at in this pass (b"": at the top)."""
        self.top = b""
        """The queue's first key when this pass began: a key before it is a newer file."""
        self.fed_this_pass = 0

    def run(self) -> None:
        pipeline, store = self.pipeline, self.pipeline.store
        while not pipeline.stopping.is_set():
            pipeline.watch_stages()
            if store.full is not None and not store.room_for_bulk():
                pipeline.stopping.wait(FULL_RECHECK_S)  # paused; status says why
                continue
            batch = store.queued(after=self.cursor, limit=BATCH)
            if not batch:
                if self.fed_this_pass == 0:
                    pipeline.wait_for_work(IDLE_WAIT_S)
                self.cursor, self.fed_this_pass = b"", 0
                continue
            if not self.cursor:
                self.top = batch[0][0]
            for key, path in batch:
                if pipeline.stopping.is_set():
                    return
                if self._newer_queued():  # a new photo goes next, not after this batch
                    self.cursor, self.fed_this_pass = b"", 0
                    break
                self.fed_this_pass += self._offer(path)
                self.cursor = key

    def _newer_queued(self) -> bool:
        """Whether a file newer than any this pass began with has been queued since."""
        head = self.pipeline.store.queued(limit=1)
        return bool(head) and head[0][0] < self.top

    def _offer(self, path: str) -> int:
        """Hand one queued file on; 1 if it went."""
        pipeline = self.pipeline
        if not pipeline.claim(path):
            return 0
        record = pipeline.store.get_file(path)
        # read before the claim, the batch may list a file finished since: not fed again
        item = None if record is None or record.state != PENDING else Item(
            path, record.gen, record.hash, (record.size, record.mtime_ns))
        if item is None or (is_video(path) and not pipeline.video_lane.offer(item)):
            pipeline.release(path)  # gone, done, or the video lane is full: next pass
            return 0
        if not is_video(path):
            pipeline.put(0, item)
        return 1
