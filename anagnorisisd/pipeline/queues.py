"""The pipeline's hand-offs: bounded queues read a batch at a time, woken for a stop."""

from __future__ import annotations

import queue
import time
from typing import Any

WAKE: Any = object()
"""Put in every queue by stop(): a thread waiting for work wakes up and sees the stop."""


def take_batch(inbox: queue.Queue[Any], size: int) -> list[Any]:
    """Wait for work (woken by stop(), never polled), then gather a batch for 20 ms."""
    first = inbox.get()
    if first is WAKE:
        return []
    batch = [first]
    deadline = time.monotonic() + 0.02
    while len(batch) < size:
        try:
            item = inbox.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            break
        if item is WAKE:
            break
        batch.append(item)
    return batch
