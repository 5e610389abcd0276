"""Small writes from many request threads, committed together in one transaction.

The store takes one write at a time, and each commit waits for the disk. Under the soak's
load a rating spent two thirds of its time waiting for the write lock and most of the
rest committing (py-spy, every thread sampled), so ratings queued behind each other:
p50 475 ms. Here the first writer to arrive leads: it takes the store's write lock once,
runs every write queued by then, each in a nested transaction of its own (one that
raises is undone alone and its caller hears why), and commits them with one flush; the
others wait for the leader and return what their write returned. A write that cannot
commit at all (a full disk) fails every write of its group, none of which was saved.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import lmdb

if TYPE_CHECKING:
    from anagnorisisd.store.database import Store
    from anagnorisisd.store.writer import Writer

T = TypeVar("T")
PEOPLE_FIRST_MAX_S = 1.0
"""The longest a background write waits for people's writes to go first: a steady stream
of ratings never stops indexing."""


@dataclass
class _Job(Generic[T]):
    work: Callable[[Writer], T]
    done: bool = False
    result: Any = None
    error: BaseException | None = None


class WriteGroup:
    """Runs each caller's write in a group commit; safe from any thread."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._turn = threading.Condition()
        self._queue: list[_Job[Any]] = []
        self._people = threading.Condition()
        self._people_waiting = 0

    def before_lock(self, first: bool) -> None:
        """Store.write, before it waits for the store: a person's write is counted; any
        other waits (a second at most) until none is. The albums' first dating wrote
        transaction after transaction, and a rating waited behind each for the lock."""
        with self._people:
            if first:
                self._people_waiting += 1
            elif self._people_waiting:
                deadline = time.monotonic() + PEOPLE_FIRST_MAX_S
                while self._people_waiting and time.monotonic() < deadline:
                    self._people.wait(deadline - time.monotonic())

    def after_lock(self, first: bool) -> None:
        """Store.write, once the store is its: a person's write is no longer waiting."""
        if first:
            with self._people:
                self._people_waiting -= 1
                self._people.notify_all()

    def run(self, work: Callable[[Writer], T]) -> T:
        """`work(writer)` committed, with whatever others queued meanwhile; its result, or
        its exception (or the group's, when nothing could be saved)."""
        job: _Job[T] = _Job(work)
        with self._turn:
            self._queue.append(job)
            while not job.done and self._queue[0] is not job:
                self._turn.wait()
        if not job.done:
            self._lead()
        if job.error is not None:
            raise job.error
        result: T = job.result
        return result

    def _lead(self) -> None:
        """At the head of the queue: once the store is ours, everything queued by then."""
        batch: list[_Job[Any]] = []
        try:
            with self.store.write(first=True) as writer:
                with self._turn:  # taken now, after the wait for the store: the most
                    batch = list(self._queue)
                outer = writer.txn
                for job in batch:
                    writer.txn = self.store.env.begin(write=True, parent=outer)
                    kept = (writer.delta.copy(), len(writer.born), len(writer.died),
                            writer.reshaped)
                    try:
                        job.result = job.work(writer)
                    except lmdb.Error:
                        writer.txn.abort()
                        raise  # the store's own trouble (full): the whole group fails
                    except Exception as exc:  # this write alone is undone, counts and all
                        writer.txn.abort()
                        writer.delta, writer.reshaped = kept[0], kept[3]
                        del writer.born[kept[1]:], writer.died[kept[2]:]
                        job.error = exc
                    else:
                        writer.txn.commit()
                    finally:
                        writer.txn = outer
        except BaseException as exc:  # nothing of the group was saved: each caller hears
            with self._turn:
                batch = batch or self._queue[:1]  # the store refused before any was taken
            for job in batch:
                job.error, job.result = exc, None
        finally:
            with self._turn:
                for job in batch:
                    job.done = True
                del self._queue[:len(batch)]
                self._turn.notify_all()
