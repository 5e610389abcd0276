"""One index generation as readers hold it: its Annoy shards, ids and float16 vectors, mapped.

Items are numbered across the generation in the order of its ids file; shard s holds the
items from ``starts[s]`` on, under its own numbers from 0. A search asks every shard and
keeps the nearest; an item's neighbours come from its own shard by number and from the
others by its vector. With one shard (every library under about 350,000 photos, and every
generation written before shards) this is Annoy as it always was.
"""

from __future__ import annotations

import bisect
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from annoy import AnnoyIndex
from numpy.typing import NDArray

from anagnorisisd.search.index_files import shard_name

log = logging.getLogger(__name__)
HASH_BYTES = 32


def angular_to_cosine(distance: float) -> float:
    """Annoy's angular distance is sqrt(2 - 2 cos) between unit vectors."""
    return 1.0 - distance * distance / 2.0


@dataclass
class BuiltIndex:
    """One immutable, memory-mapped index generation."""

    shards: list[AnnoyIndex]
    ids: NDArray[np.uint8]  # N x 32
    identity: str
    built_at: float
    number: int
    dim: int
    matrix: NDArray[np.float32] | None = None
    """Every vector, when the index is small enough to search exactly (``exact_below``)."""
    half: NDArray[np.float16] | None = None
    """Every vector in float16, memory-mapped from the file saved with the index (absent
    for an index saved before it was): what scoring every photo reads (half_vectors)."""
    starts: list[int] = field(default_factory=lambda: [0])
    """The first item of each shard."""

    def __post_init__(self) -> None:
        blob, width = self.ids.tobytes(), self.ids.shape[1] if self.ids.ndim == 2 else 0
        # slices of one bytes object: a fifth of the time of bytes() of each numpy row
        self.position = {blob[i * width:(i + 1) * width]: i for i in range(len(self.ids))}

    @property
    def size(self) -> int:
        return len(self.ids)

    def content(self, item: int) -> bytes:
        return bytes(self.ids[item])

    def vector(self, item: int) -> NDArray[np.float32]:
        """An item's vector: from the float16 file where there is one (no call into Annoy)."""
        if self.half is not None:
            return np.asarray(self.half[item], dtype=np.float32)
        shard = bisect.bisect_right(self.starts, item) - 1
        return np.asarray(self.shards[shard].get_item_vector(item - self.starts[shard]),
                          dtype=np.float32)

    def shard_sizes(self) -> list[int]:
        return [end - start for start, end in zip(self.starts, [*self.starts[1:], self.size],
                                                  strict=True)]

    def nearest(self, vector: list[float], count: int, search_k: Callable[[int], int]
                ) -> tuple[list[int], list[float]]:
        """The `count` items nearest `vector` and their angular distances, nearest first:
        every shard asked for as many, examining `search_k(shard size)` items."""
        found: list[tuple[float, int]] = []
        for annoy, start, size in zip(self.shards, self.starts, self.shard_sizes(),
                                      strict=True):
            items, distances = annoy.get_nns_by_vector(vector, count, search_k=search_k(size),
                                                       include_distances=True)
            found += [(d, start + i) for i, d in zip(items, distances, strict=True)]
        if len(self.shards) > 1:
            found = sorted(found)[:count]
        return [i for _, i in found], [d for d, _ in found]

    def neighbours(self, item: int, count: int, search_k: int) -> tuple[list[int], list[float]]:
        """An item's `count` nearest (itself first), from its own shard by its number and
        from the other shards by its vector."""
        shard = bisect.bisect_right(self.starts, item) - 1
        start = self.starts[shard]
        items, distances = self.shards[shard].get_nns_by_item(
            item - start, count, search_k=search_k, include_distances=True)
        if len(self.shards) == 1:
            return items, distances
        found = [(d, start + i) for i, d in zip(items, distances, strict=True)]
        query = self.vector(item).tolist()
        for other, (annoy, first) in enumerate(zip(self.shards, self.starts, strict=True)):
            if other != shard:
                more, far = annoy.get_nns_by_vector(query, count, search_k=search_k,
                                                    include_distances=True)
                found += [(d, first + i) for i, d in zip(more, far, strict=True)]
        found = sorted(found, key=lambda pair: (pair[1] != item, pair[0]))[:count]
        return [i for _, i in found], [d for d, _ in found]


def load_generation(directory: Path, identity: str, exact_below: int) -> BuiltIndex | None:
    """The generation current.json names, if it was built for this model identity and its
    files agree; None to build one."""
    try:
        meta = json.loads((directory / "current.json").read_text())
    except (OSError, ValueError):
        return None
    if meta.get("identity") != identity:
        return None
    number, dim = int(meta["number"]), int(meta["dim"])
    base = directory / str(number)
    shards: list[AnnoyIndex] = []
    starts: list[int] = []
    try:
        ids = np.fromfile(f"{base}.ids", dtype=np.uint8).reshape(-1, HASH_BYTES)
        for shard in range(int(meta.get("shards", 1))):
            annoy = AnnoyIndex(dim, "angular")
            annoy.load(shard_name(base, shard), prefault=False)
            starts.append(sum(s.get_n_items() for s in shards))
            shards.append(annoy)
    except (OSError, ValueError) as exc:
        log.warning("index %s unusable (%s); it will be rebuilt", number, exc)
        return None
    if sum(s.get_n_items() for s in shards) != len(ids):
        log.warning("index %s unusable (its shards and ids disagree); it will be rebuilt",
                    number)
        return None
    half_path = directory / f"{number}.f16.npy"
    half = None
    try:
        half = np.load(half_path, mmap_mode="r") if half_path.exists() else None
    except (OSError, ValueError):
        half = None  # unreadable: every vector is read from Annoy instead
    if half is not None and half.shape != (len(ids), dim):
        half = None
    built = BuiltIndex(shards, ids, identity, float(meta["built_at"]), number, dim, None,
                       half, starts)
    if len(ids) <= exact_below:  # from the float16 file: no loop over Annoy's items
        built.matrix = (np.asarray(half, dtype=np.float32) if half is not None else
                        np.asarray([built.vector(i) for i in range(len(ids))],
                                   dtype=np.float32).reshape(len(ids), dim))
    return built


def saved_index_status(directory: Path) -> dict[str, object] | None:
    """What the last saved index holds, read without loading it (for an offline status)."""
    try:
        meta = json.loads((directory / "current.json").read_text())
    except (OSError, ValueError):
        return None
    return {"items": meta.get("count", 0), "built_at": meta.get("built_at"),
            "age_s": round(time.time() - float(meta.get("built_at", time.time())), 1),
            "identity": meta.get("identity"), "shards": meta.get("shards", 1)}
