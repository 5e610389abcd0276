"""Stacks and duplicate groups, each with the keeper the person's taste suggests.

Grouping is computed in the background (a scheduler job) whenever the library or its
index changed, and kept: a request reads the latest grouping and only chooses keepers,
which is cheap and must be fresh (a rating changes the keeper at once). Membership is
not lost on a crash because it is not state: it is derived again from the store.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.features.culling.keepers import Candidate, choose, faults
from anagnorisisd.features.culling.pixels import (
    Fingerprint,
    alike,
    fingerprint,
    frame_shift,
    pan_direction,
    panning_runs,
)
from anagnorisisd.features.culling.stacks import StackRules, find_brackets, find_stacks
from anagnorisisd.ml.service import needs_model
from anagnorisisd.search.catalog_rows import Columns
from anagnorisisd.search.service import SearchService
from anagnorisisd.store.database import Store

FINGERPRINTS_KEPT = 50_000
PANORAMA_SIMILARITY = 0.6
"""Frames of a panorama show one scene but not the same picture: a looser cosine than a
burst's; the pixels' shift decides."""
SAME_PICTURE = 0.97
"""Two shots this alike are the same picture (a burst), not a pan step: their pixels are
not compared (at 100,000 photos, most steps a loose grouping finds are bursts)."""


@dataclass(frozen=True)
class Grouping:
    stacks: list[list[bytes]]
    """Shots of one moment, in time order."""
    duplicates: list[list[bytes]]
    """Near-duplicates across the library; a one-content group is exact copies."""
    brackets: list[list[bytes]]
    """Exposure brackets, in time order: kept whole, never culled (no stack, no plan)."""
    panoramas: list[list[bytes]]
    """Panning sequences, in time order: kept whole, never culled, like brackets."""
    generation: tuple[int, int, int]
    seconds: float


def known(value: float) -> float | None:
    """A measure, or None where it is not measured yet (nan)."""
    return None if math.isnan(value) else value


class Culling:
    def __init__(self, store: Store, search: SearchService, rules: StackRules,
                 duplicate_threshold: float) -> None:
        self.store = store
        self.search = search
        self.rules = rules
        self.duplicate_threshold = duplicate_threshold
        self._latest: Grouping | None = None
        self.groupings = 0
        """How many groupings were made: the panel redraws a group list when it moves."""
        self._lock = threading.Lock()
        self._prints: OrderedDict[bytes, Fingerprint] = OrderedDict()
        self._pans: dict[bytes, str | None] = {}
        """The pan between two shots (their ids joined), once measured."""
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
            pairs = self.search.refresh_pairs()  # a RAW+JPEG pair is one photo here too
            columns = self.search.catalog.columns()
            # a RAW twin is its JPEG: never a shot of a burst or a duplicate of its own;
            # a file's modification time is not when it was taken: it links nothing
            taken = np.where(columns.failed | columns.twin | ~columns.own_time, np.nan,
                             columns.taken)
            brackets = find_brackets(taken, columns.bias)
            in_bracket = np.zeros(len(columns.ids), dtype=bool)
            for rows in brackets:
                in_bracket[rows] = True
            matrix, has = self._vectors(columns)
            taken = np.where(in_bracket, np.nan, taken)
            panoramas = self._panoramas(columns, taken, matrix, has)
            for rows in panoramas:
                taken[rows] = np.nan
            stacks = [[columns.ids[int(i)] for i in stack]
                      for stack in find_stacks(taken, matrix, has, self.rules)]
            duplicates = [[c for c in group if c not in pairs]
                          for group in self.search.duplicate_groups(self.duplicate_threshold)]
            duplicates = [g for g in duplicates if g]
            self._latest = Grouping(
                stacks, duplicates,
                [[columns.ids[int(i)] for i in rows] for rows in brackets],
                [[columns.ids[int(i)] for i in rows] for rows in panoramas],
                generation, time.perf_counter() - start)
            self.groupings += 1
            return self._latest

    def latest(self) -> Grouping:
        return self._latest or self.refresh()

    def _vectors(self, columns: Columns) -> tuple[NDArray[np.float32], NDArray[np.bool_]]:
        """Every row's normalised embedding, and which rows have one (rows of `columns`,
        the one snapshot a grouping works on while photos keep arriving)."""
        keys, vectors = self.search.index.all_vectors()
        n = len(columns.ids)
        if not keys or n < 2:
            return np.zeros((n, 1), dtype=np.float32), np.zeros(n, dtype=bool)
        dim = vectors.shape[1]
        matrix = np.zeros((n, dim), dtype=np.float32)
        has = np.zeros(n, dtype=bool)
        rows = [columns.position.get(k, -1) for k in keys]
        known = np.asarray([r >= 0 for r in rows], dtype=bool)
        targets = np.asarray([r for r in rows if r >= 0], dtype=np.intp)
        matrix[targets] = vectors[known]
        has[targets] = True
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
        return matrix, has

    def _panoramas(self, columns: Columns, taken: NDArray[np.float64],
                   matrix: NDArray[np.float32], has: NDArray[np.bool_]
                   ) -> list[NDArray[np.intp]]:
        """Rows of every panning sequence: shots close in time and loosely alike (one
        scene, PANORAMA_SIMILARITY), each moved one way against the one before by a good
        part of the frame (search.pixels.pan_direction, on the thumbnails)."""
        loose = StackRules(self.rules.gap_s, PANORAMA_SIMILARITY)
        found: list[NDArray[np.intp]] = []
        for run in find_stacks(taken, matrix, has, loose):
            steps = [None if float(matrix[a] @ matrix[b]) >= SAME_PICTURE
                     else self._pan(columns.ids[int(a)], columns.ids[int(b)])
                     for a, b in itertools.pairwise(run)]
            found += [run[first:last + 1] for first, last in panning_runs(steps)]
        return found

    def _pan(self, a: bytes, b: bytes) -> str | None:
        key = a + b
        if key in self._pans:
            return self._pans[key]
        stage = self.search.catalog.thumbnail_stage
        first = self.store.get_result(a, stage) if stage else None
        second = self.store.get_result(b, stage) if stage else None
        direction = None
        if first and second:
            try:
                direction = pan_direction(frame_shift(first["data"], second["data"]))
            except (OSError, ValueError):
                direction = None
        if len(self._pans) >= FINGERPRINTS_KEPT:
            self._pans.clear()
        self._pans[key] = direction
        return direction

    # ---------------------------------------------------------------- keepers
    def candidate(self, content: bytes) -> Candidate:
        entry = self.search.catalog.get(content)
        if entry is None:
            return Candidate(content, None, None, None, 0, 0)
        return Candidate(content, entry.user_rating, entry.model_rating,
                         known(entry.sharpness), entry.pixels, entry.file_size,
                         eyes_closed=None if math.isnan(entry.eyes_closed)
                         else int(entry.eyes_closed),
                         least_sharp=known(entry.least_sharp), stops=known(entry.stops),
                         misfire=entry.misfire or None, light=known(entry.light))

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
            shots = [self.candidate(c) for c in live]
            best, reason = choose(shots)
            keeper = best.content
            stacks.append({"members": [c.hex() for c in live], "keeper": keeper.hex(),
                           "reason": reason, "kind": "burst",
                           "faults": {c.hex(): f for c, f in faults(shots).items()},
                           "alike": {c.hex(): self.looks_alike(c, [keeper]) for c in live}})
        for kind, groups in (("bracket", grouping.brackets), ("panorama", grouping.panoramas)):
            for members in groups:
                live = [c for c in members if c in self.search.catalog]
                if len(live) >= 2:
                    stacks.append(self.kept_whole_json(kind, live))
        notice = self.model_notice()
        return {"stacks": stacks, "total": len(stacks),
                "rules": {"gap_s": self.rules.gap_s, "similarity": self.rules.similarity},
                "seconds": round(grouping.seconds, 3),
                **({"needs_model": True, "notice": needs_model("Finding stacks")}
                   if self.search.index.current is None and not self.search.index.fresh
                   else {"needs_model": False, "notice": notice})}

    def kept_whole_json(self, kind: str, members: list[bytes]) -> dict[str, Any]:
        """A bracket or a panorama as a stack the panel can show as a set: every shot
        kept; in front, a bracket's middle exposure (nearest 0 EV) or a panorama's
        middle frame."""
        def bias(content: bytes) -> float:
            entry = self.search.catalog.get(content)
            return entry.bias if entry is not None else math.nan

        if kind == "bracket":
            front = min(members, key=lambda c: abs(bias(c)) if not math.isnan(bias(c)) else 99)
            shown = ", ".join(f"{b:+g}" for b in map(bias, members) if not math.isnan(b))
            reason = (f"an exposure bracket ({shown} EV): every shot is kept, to be merged "
                      "or chosen from by hand; culling never trashes one")
        else:
            front = members[len(members) // 2]
            reason = (f"a panorama of {len(members)} frames panning one way: every frame is "
                      "kept, to be stitched; culling never trashes one")
        return {"members": [c.hex() for c in members], "keeper": front.hex(),
                "reason": reason, "kind": kind, "faults": {c.hex(): [] for c in members},
                "alike": {c.hex(): True for c in members}}

    def model_notice(self) -> str | None:
        """What the model in use says it is unfit for, said beside anything it grouped."""
        return self.search.models.warning()
