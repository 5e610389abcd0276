"""Stacks and duplicate groups, each with the keeper the person's taste suggests.

Grouping is computed in the background (a scheduler job) whenever the library or its
index changed, and kept: a request reads the latest grouping and only chooses keepers,
which is cheap and must be fresh (a rating changes the keeper at once). Membership is
not lost on a crash because it is not state: it is derived again from the store.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from anagnorisisd.ml.service import needs_model
from anagnorisisd.search.keepers import Candidate, choose
from anagnorisisd.search.pixels import Fingerprint, alike, fingerprint
from anagnorisisd.search.service import SearchService
from anagnorisisd.search.stacks import StackRules, find_stacks
from anagnorisisd.store.database import Store

FINGERPRINTS_KEPT = 50_000


@dataclass(frozen=True)
class Grouping:
    stacks: list[list[bytes]]
    """Shots of one moment, in time order."""
    duplicates: list[list[bytes]]
    """Near-duplicates across the library; a one-content group is exact copies."""
    generation: tuple[int, int, int]
    seconds: float


class Culling:
    def __init__(self, store: Store, search: SearchService, rules: StackRules,
                 duplicate_threshold: float) -> None:
        self.store = store
        self.search = search
        self.rules = rules
        self.duplicate_threshold = duplicate_threshold
        self._latest: Grouping | None = None
        self._lock = threading.Lock()
        self._prints: OrderedDict[bytes, Fingerprint] = OrderedDict()
        self._prints_lock = threading.Lock()

    def _generation(self) -> tuple[int, int, int]:
        current = self.search.index.current
        return (current.number if current else 0, len(self.search.index.fresh),
                len(self.search.catalog))

    def refresh(self, force: bool = False) -> Grouping:
        """Group again if anything changed since the last grouping (the scheduler's job)."""
        with self._lock:
            generation = self._generation()
            latest = self._latest
            if latest is not None and latest.generation == generation and not force:
                return latest
            start = time.perf_counter()
            stacks = self._stacks()
            duplicates = self.search.duplicate_groups(self.duplicate_threshold)
            self._latest = Grouping(stacks, duplicates, generation,
                                    time.perf_counter() - start)
            return self._latest

    def latest(self) -> Grouping:
        return self._latest or self.refresh()

    def _stacks(self) -> list[list[bytes]]:
        columns = self.search.catalog.columns()
        keys, vectors = self.search.index.all_vectors()
        n = len(columns.ids)
        if not keys or n < 2:
            return []
        dim = vectors.shape[1]
        matrix = np.zeros((n, dim), dtype=np.float32)
        has = np.zeros(n, dtype=bool)
        rows = [columns.position.get(k, -1) for k in keys]
        known = np.asarray([r >= 0 for r in rows], dtype=bool)
        targets = np.asarray([r for r in rows if r >= 0], dtype=np.intp)
        matrix[targets] = vectors[known]
        has[targets] = True
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        taken = np.where(columns.failed, np.nan, columns.taken)
        return [[columns.ids[int(i)] for i in stack]
                for stack in find_stacks(taken, matrix, has, self.rules)]

    # ---------------------------------------------------------------- keepers
    def candidate(self, content: bytes) -> Candidate:
        entry = self.search.catalog.get(content)
        if entry is None:
            return Candidate(content, None, None, None, 0, 0)
        sharp = None if entry.sharpness != entry.sharpness else entry.sharpness
        return Candidate(content, entry.user_rating, entry.model_rating, sharp,
                         entry.pixels, entry.file_size)

    def keeper(self, members: list[bytes]) -> tuple[bytes, str]:
        best, reason = choose([self.candidate(c) for c in members])
        return best.content, reason

    # ------------------------------------------------------------ pixel check
    def looks_alike(self, content: bytes, kept: list[bytes]) -> bool:
        """Whether the photo's thumbnail looks like a kept photo's at pixel level (search.
        pixels): what a photo must pass, beside the model's grouping, before it may be
        trashed as a non-keeper without the person rejecting it. No thumbnail, no pass."""
        if content in kept:
            return True
        mine = self._fingerprint(content)
        if mine is None:
            return False
        for other in kept:
            theirs = self._fingerprint(other)
            if theirs is not None and alike(mine, theirs):
                return True
        return False

    def _fingerprint(self, content: bytes) -> Fingerprint | None:
        with self._prints_lock:
            if content in self._prints:
                self._prints.move_to_end(content)
                return self._prints[content]
        stage = self.search.catalog.thumbnail_stage
        thumb = self.store.get_result(content, stage) if stage else None
        if not thumb:
            return None
        try:
            made = fingerprint(thumb["data"])
        except (OSError, ValueError):
            return None
        with self._prints_lock:  # bounded: a fingerprint is about 600 bytes
            self._prints[content] = made
            while len(self._prints) > FINGERPRINTS_KEPT:
                self._prints.popitem(last=False)
        return made

    def stacks_json(self) -> dict[str, Any]:
        grouping = self.latest()
        stacks = []
        for members in grouping.stacks:
            live = [c for c in members if c in self.search.catalog]
            if len(live) < 2:
                continue
            keeper, reason = self.keeper(live)
            stacks.append({"members": [c.hex() for c in live], "keeper": keeper.hex(),
                           "reason": reason,
                           "alike": {c.hex(): self.looks_alike(c, [keeper]) for c in live}})
        notice = self.model_notice()
        return {"stacks": stacks, "total": len(stacks),
                "rules": {"gap_s": self.rules.gap_s, "similarity": self.rules.similarity},
                "seconds": round(grouping.seconds, 3),
                **({"needs_model": True, "notice": needs_model("Finding stacks")}
                   if self.search.index.current is None and not self.search.index.fresh
                   else {"needs_model": False, "notice": notice})}

    def model_notice(self) -> str | None:
        """What the model in use says it is unfit for, said beside anything it grouped."""
        return self.search.models.warning()
