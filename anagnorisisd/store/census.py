"""Live counters for status, exact under concurrent writes (the store applies each commit's
deltas under the write lock; recount swaps in a full count under the same lock)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Census:
    """Live counters for status, kept exact by applying each commit's deltas.

    Recounting a million records on every status request would burn a core;
    instead a full count runs once at open and every write transaction adds its
    own deltas after it commits.
    """

    files: Counter[str] = field(default_factory=Counter)
    live_content: int = 0
    hashed: int = 0
    stage_done: Counter[str] = field(default_factory=Counter)
    stage_failed: Counter[str] = field(default_factory=Counter)
    stage_blocked: Counter[str] = field(default_factory=Counter)
    """Content a stage will not run on because an earlier stage failed it (Mark.blocked)."""
    file_failed_at: Counter[str] = field(default_factory=Counter)

    def apply(self, delta: Census) -> None:
        self.files.update(delta.files)
        self.live_content += delta.live_content
        self.hashed += delta.hashed
        self.stage_done.update(delta.stage_done)
        self.stage_failed.update(delta.stage_failed)
        self.stage_blocked.update(delta.stage_blocked)
        self.file_failed_at.update(delta.file_failed_at)

    def copy(self) -> Census:
        fresh = Census()
        fresh.apply(self)
        return fresh
