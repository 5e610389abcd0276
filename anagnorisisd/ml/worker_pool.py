"""Spreading requests over immich machine-learning workers, whatever the model.

Every remote model (CLIP, faces, text) asks its workers the same way: the usable worker
with the fewest requests in flight takes the next item; any answer, however malformed,
frees its slot; a worker that cannot be reached is skipped for a while (2 s, doubling to
15 s) and its item goes to another, so nothing is ever marked failed because a worker was
down; a worker whose identity check fails is refused for REFUSED_RECHECK_S; every
RECHECK_ITEMS items (or RECHECK_S) it is checked again. What "checked" means is the
model's business (`_check`).

One odd answer (an error status, garbage, a box outside the picture) is not a verdict on
the worker: it is probed again at once, and if it still shows its identity the answer was
that photo's trouble (ItemFault: the photo fails with the reason, the worker goes on).
Only a worker whose answers stay wrong (ODD_LIMIT in a row, or a probe it fails) is
refused. Every request has the whole timeout from the moment it is sent, so a check
before an item, or a wait for a free worker, never eats the item's time; a query someone
waits on is answered at once when every worker is known to be down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from anagnorisisd.ml.remote_protocol import (
    HttpStatus,
    ItemFault,
    NoWorker,
    Refused,
    RemoteError,
    Stopped,
)
from anagnorisisd.ml.remote_worker import Worker

log = logging.getLogger(__name__)

T = TypeVar("T")

BACKOFF_FIRST_S, BACKOFF_MAX_S = 2.0, 15.0
REFUSED_RECHECK_S = 300.0
"""A refused worker is probed again after this long: it may have been given the right model."""
RECHECK_ITEMS, RECHECK_S = 200, 600.0
"""A worker is checked on the probe again after this many items or seconds."""
ODD_LIMIT = 5
"""Odd answers in a row (each followed by a probe it passed) after which a worker is
refused all the same: a worker that passes its probe and answers nothing else right."""


class WorkerPool:
    """The workers of one remote model, and the rules for choosing among them."""

    def __init__(self, urls: list[str], *, in_flight: int, timeout_s: float,
                 fallback_local: bool) -> None:
        self.workers = [Worker(u.rstrip("/")) for u in urls]
        self.in_flight = max(1, in_flight)
        self.timeout_s = timeout_s
        self.fallback_local = fallback_local
        self.waiting = 0
        self._cond = threading.Condition()
        self._check_locks = {w.url: threading.RLock() for w in self.workers}
        self._stopped = threading.Event()

    def _check(self, worker: Worker) -> None:
        """Raise unless the worker shows it runs this model; mark it checked if it does.
        The check has its own timeout: it is the worker's time, never an item's."""
        raise NotImplementedError

    def _passed_check(self, worker: Worker) -> None:
        with self._cond:
            worker.checked, worker.since_check = True, 0
            worker.checked_at = time.monotonic()
            worker.checked_wall = time.time()
            worker.refused = None  # identity shown again: any earlier refusal ends

    def _acquire(self, deadline: float | None = None, interactive: bool = False
                 ) -> Worker | None:
        """The usable worker with the fewest requests in flight; None means "embed locally"
        (fallback). An item of the pipeline waits while every worker is down, since nothing
        should fail for it; a request with a `deadline` waits until then, then NoWorker says
        so in one sentence; an `interactive` one (a query someone waits on) is answered at
        once while every worker is known to be down or refused."""
        with self._cond:
            self.waiting += 1
            try:
                while True:
                    if self._stopped.is_set():
                        raise Stopped
                    now = time.monotonic()
                    usable = [w for w in self.workers if w.usable(now, self.in_flight)]
                    if usable:
                        worker = min(usable, key=lambda w: (w.in_flight, w.latency_s or 0.0))
                        worker.in_flight += 1
                        return worker
                    if self.fallback_local and all(w.in_flight == 0 for w in self.workers):
                        return None
                    if interactive and all(w.retry_at > now and (w.refused or w.up is False)
                                           for w in self.workers):
                        raise NoWorker(self._nobody())  # known down: no use waiting
                    if deadline is not None and (now >= deadline or all(
                            w.refused and w.retry_at > deadline for w in self.workers)):
                        raise NoWorker(self._nobody())  # none can answer in time: say so now
                    soonest = min((w.retry_at for w in self.workers if w.retry_at > now),
                                  default=now + 1)
                    until = min(soonest, deadline) if deadline is not None else soonest
                    self._cond.wait(timeout=max(0.05, min(until - now, 1.0)))
            finally:
                self.waiting -= 1

    def _nobody(self) -> str:
        """Why no worker could answer, in one sentence."""
        now = time.monotonic()
        states = [f"{w.url} {w.as_dict(now)['state']}"
                  + (f" ({w.last_error})" if w.last_error else "") for w in self.workers]
        return (f"no remote worker could answer within {self.timeout_s:g} s: "
                + "; ".join(states))

    def _release(self, worker: Worker, error: Exception | None, sent: int = 0,
                 odd: str | None = None) -> None:
        """Any answer, however malformed, ends here and frees the worker's slot: a success,
        a refusal (identity: no work for minutes), a fault (skipped a while, checked
        again on the probe before its next item), or an `odd` answer to one photo from a
        worker that still passes its probe (counted, and the photo's failure)."""
        with self._cond:
            worker.in_flight -= 1
            now = time.monotonic()
            if odd is not None:
                worker.odd_streak += 1
                worker.odd_answers += 1
                worker.last_error = odd
                log.warning("remote worker %s: %s", worker.url, odd)
            elif error is None:
                worker.odd_streak = 0
            if error is None:
                if worker.refused is None:  # a refusal made meanwhile stands until a check
                    worker.up, worker.backoff, worker.retry_at = True, 0.0, 0.0
                worker.done += 1
                worker.since_check += 1
                worker.bytes_sent += sent
                worker.finished.append(now)
                if worker.since_check >= RECHECK_ITEMS or now - worker.checked_at > RECHECK_S:
                    worker.checked = False
            else:
                worker.failures += 1
                worker.checked = False
                message = str(error) or type(error).__name__
                worker.last_error = message
                if isinstance(error, Refused):
                    worker.refused = f"{worker.url} {message}"
                    worker.retry_at = now + REFUSED_RECHECK_S
                else:
                    worker.up = False
                    worker.backoff = min(BACKOFF_MAX_S, max(BACKOFF_FIRST_S, 2 * worker.backoff))
                    worker.retry_at = now + worker.backoff
                log.warning("remote worker %s: %s", worker.url, message)
            self._cond.notify_all()

    def _on_some_worker(self, ask: Callable[[Worker, float | None], T],
                        here: Callable[[], T], sent: int = 0,
                        deadline: float | None = None,
                        interactive: bool = False) -> tuple[T, str]:
        """Ask workers until one answers (one that cannot be reached hands the item to the
        next: never a failure of the item), or run it `here` when every worker is down and
        fallback is on. `deadline` bounds only the wait for a worker; the request itself
        has the whole timeout from when it is sent (`ask` gets None). An odd answer for this
        item from a worker that then passes its probe again is the item's fault
        (ItemFault), not the worker's."""
        while True:
            worker = self._acquire(deadline, interactive)
            if worker is None:
                return here(), "local"
            try:
                self._check(worker)
            except Exception as exc:
                self._release(worker, exc)
                continue
            try:
                answer = ask(worker, None)
            except Stopped:
                self._release(worker, None)
                raise
            except (HttpStatus, RemoteError) as exc:
                fault = self._item_or_worker(worker, exc)
                if isinstance(fault, ItemFault):
                    self._release(worker, None, odd=f"{exc} (one photo; its probe passed)")
                    raise fault from None
                self._release(worker, fault)
                continue
            except Exception as exc:  # the network: the worker is skipped a while
                self._release(worker, exc)
                continue
            self._release(worker, None, sent)
            return answer, worker.url

    def _item_or_worker(self, worker: Worker, odd: RemoteError) -> Exception:
        """After an odd answer for an item: probe again. A worker that still shows its
        identity could not read this image (ItemFault) unless its answers stay wrong
        (ODD_LIMIT in a row: Refused); one that fails the probe is at fault itself."""
        with self._cond:
            worker.checked = False
            streak = worker.odd_streak + 1
        if streak >= ODD_LIMIT:
            return Refused(f"answered {streak} photos in a row wrongly (last: {odd})")
        try:
            self._check(worker)
        except Exception as exc:
            return exc
        return ItemFault(f"the worker could not read this image ({odd})")

    def workers_status(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        with self._cond:
            return [w.as_dict(now) for w in self.workers]

    def serving(self) -> bool:
        """Whether some worker may answer: not every one is refused (a refusal stands for
        minutes, until the worker is probed again)."""
        now = time.monotonic()
        with self._cond:
            return any(w.refused is None or w.retry_at <= now for w in self.workers)

    def stop(self) -> None:
        self._stopped.set()
        with self._cond:
            self._cond.notify_all()

    def close(self) -> None:
        """At shutdown (the model slot's close): requests waiting for a worker give up."""
        self.stop()
