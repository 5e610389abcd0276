"""The Annoy index of the active model's embeddings, swapped atomically, plus exact fresh items.

An index is three files written under a build number: ``N.ann`` (Annoy,
angular), ``N.ids`` (the content hash of each item, 32 bytes each) and
``current.json`` naming N and the model identity, written last with an atomic
rename. Readers keep using the index they hold while a new one is built, so a
search never waits for a rebuild, and a restart loads the last index instead of
rebuilding. Embeddings that arrived after the build are held in memory and
searched exactly; items deleted since are filtered out by the caller.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from annoy import AnnoyIndex
from numpy.typing import NDArray

from anagnorisisd.pipeline.background import lower_this_thread
from anagnorisisd.search.index_build import BuildFailed, build_in_child, finish, publish, sweep

log = logging.getLogger(__name__)
HASH_BYTES = 32
FRESH_PAIRS = 20_000
"""Fresh items compared with each other for near-duplicates, at most (an O(n^2) product):
above it, a library with no index yet waits for its first build."""


def angular_to_cosine(distance: float) -> float:
    """Annoy's angular distance is sqrt(2 - 2 cos) between unit vectors."""
    return 1.0 - distance * distance / 2.0


@dataclass
class BuiltIndex:
    """One immutable, memory-mapped index generation."""

    annoy: AnnoyIndex
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

    def __post_init__(self) -> None:
        blob, width = self.ids.tobytes(), self.ids.shape[1] if self.ids.ndim == 2 else 0
        # slices of one bytes object: a fifth of the time of bytes() of each numpy row
        self.position = {blob[i * width:(i + 1) * width]: i for i in range(len(self.ids))}

    @property
    def size(self) -> int:
        return len(self.ids)

    def content(self, item: int) -> bytes:
        return bytes(self.ids[item])


def saved_index_status(directory: Path) -> dict[str, object] | None:
    """What the last saved index holds, read without loading it (for an offline status)."""
    try:
        meta = json.loads((directory / "current.json").read_text())
    except (OSError, ValueError):
        return None
    return {"items": meta.get("count", 0), "built_at": meta.get("built_at"),
            "age_s": round(time.time() - float(meta.get("built_at", time.time())), 1),
            "identity": meta.get("identity")}


class VectorIndex:
    """Owns the index files of one data dir; thread-safe for one builder and many readers."""

    def __init__(self, directory: Path, n_trees: int = 64, search_k: int = 10_000,
                 exact_below: int = 30_000) -> None:
        self.directory = directory
        # Below this many items a matrix product over every vector is as fast as Annoy
        # (bench/bench_crossover.py), and exact: recall 1.0 for most personal libraries.
        self.exact_below = exact_below
        self.n_trees = n_trees
        # Annoy leaves hold hundreds of 512-d items, so search_k (items examined) must be in
        # the thousands: 10,000 gives recall@10 of about 0.95 at 100k items, and it has to
        # grow with the index (one item in 25 examined keeps it there at 1M; bench_index).
        self.search_k = search_k
        self.current: BuiltIndex | None = None
        self.fresh: dict[bytes, NDArray[np.float32]] = {}
        self._fresh_matrix: tuple[list[bytes], NDArray[np.float32]] | None = None
        self._lock = threading.Lock()
        self.building = False
        self.last_build_s: float | None = None
        self._similarity_cache: tuple[tuple[int, int], list[bytes]] | None = None
        self._child: subprocess.Popen[str] | None = None
        self._stopping = False

    # ------------------------------------------------------------ lifecycle
    def load(self, identity: str) -> bool:
        """Load the last index built for this model identity, if there is one."""
        meta_path = self.directory / "current.json"
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            return False
        if meta.get("identity") != identity:
            return False
        number, dim = int(meta["number"]), int(meta["dim"])
        annoy = AnnoyIndex(dim, "angular")
        try:
            annoy.load(str(self.directory / f"{number}.ann"), prefault=False)
            ids = np.fromfile(self.directory / f"{number}.ids", dtype=np.uint8).reshape(
                -1, HASH_BYTES)
        except (OSError, ValueError) as exc:
            log.warning("index %s unusable (%s); it will be rebuilt", number, exc)
            return False
        half_path = self.directory / f"{number}.f16.npy"
        half = None
        try:
            half = np.load(half_path, mmap_mode="r") if half_path.exists() else None
        except (OSError, ValueError):
            half = None  # unreadable: every vector is read from Annoy instead
        if half is not None and half.shape != (len(ids), dim):
            half = None
        matrix = None
        if len(ids) <= self.exact_below:  # from the float16 file: no loop over Annoy's items
            matrix = (np.asarray(half, dtype=np.float32) if half is not None else np.asarray(
                [annoy.get_item_vector(i) for i in range(len(ids))],
                dtype=np.float32).reshape(len(ids), dim))
        with self._lock:
            self.current = BuiltIndex(annoy, ids, identity, float(meta["built_at"]), number, dim,
                                      matrix, half)
            self.fresh = {k: v for k, v in self.fresh.items() if k not in self.current.position}
            self._fresh_matrix = None
        return True

    def build(self, identity: str, ids: list[bytes], vectors: NDArray[np.float32]) -> BuiltIndex:
        """Build a new generation from vectors in hand, in this process, and swap it in (tools
        and benchmarks; the daemon builds from the store in a child: build_from_store)."""
        started = time.monotonic()
        self.directory.mkdir(parents=True, exist_ok=True)
        number = self._next_number()
        dim = int(vectors.shape[1]) if len(vectors) else 1
        base = self.directory / str(number)
        annoy = AnnoyIndex(dim, "angular")
        annoy.set_seed(42)
        for i, vector in enumerate(vectors):
            annoy.add_item(i, vector)
        annoy.build(self.n_trees, n_jobs=-1)
        annoy.save(f"{base}.ann.tmp")
        annoy.unload()
        with open(f"{base}.f16.npy.tmp", "wb") as out:
            np.save(out, np.asarray(vectors, dtype=np.float16).reshape(len(ids), dim))
        np.frombuffer(b"".join(ids), dtype=np.uint8).tofile(f"{base}.ids.tmp")
        publish(self.directory, {"number": number, "identity": identity, "dim": dim,
                                 "built_at": time.time(), "count": len(ids)})
        return self._adopt(identity, number, started)

    def build_from_store(self, identity: str, data_dir: Path, map_size: int, stage: str
                         ) -> BuiltIndex:
        """Build a new generation from the store in a child process, on disk, and swap it in:
        the daemon's threads never wait for it (search/index_build.py)."""
        started = time.monotonic()
        self.directory.mkdir(parents=True, exist_ok=True)
        sweep(self.directory)
        number = self._next_number()
        stopped = BuildFailed("the index build was cancelled: the daemon is stopping")
        if self._stopping:
            raise stopped
        process = build_in_child(data_dir, map_size, self.directory, identity, stage,
                                    number, self.n_trees)
        with self._lock:
            self._child = process
            if self._stopping:
                process.kill()
        try:
            meta = finish(process)
        except BuildFailed:
            sweep(self.directory)
            if self._stopping:
                raise stopped from None
            raise
        finally:
            with self._lock:
                self._child = None
        if self._stopping:
            sweep(self.directory)
            raise stopped
        publish(self.directory, meta)
        return self._adopt(identity, number, started)

    def stop_builds(self) -> None:
        """The daemon is stopping: a build in a child ends now, and none starts again;
        searches keep the index they have."""
        with self._lock:
            self._stopping = True
            if self._child is not None:
                self._child.kill()

    def _next_number(self) -> int:
        previous = self.current
        return (previous.number + 1) if previous else int(time.time())

    def _adopt(self, identity: str, number: int, started: float) -> BuiltIndex:
        """Map the generation just published; what arrived during the build stays fresh;
        older generations' files go."""
        if not self.load(identity):
            raise RuntimeError("the index just built could not be loaded")
        ann_path = self.directory / f"{number}.ann"
        for old in self.directory.glob("*.ann"):
            if old != ann_path:
                old.unlink(missing_ok=True)
                old.with_suffix(".ids").unlink(missing_ok=True)
                old.with_suffix(".f16.npy").unlink(missing_ok=True)
        self.last_build_s = time.monotonic() - started
        assert self.current is not None
        return self.current

    # ----------------------------------------------------------------- fresh
    def add_fresh(self, content: bytes, vector: NDArray[np.float32]) -> None:
        with self._lock:
            if self.current is None or content not in self.current.position:
                self.fresh[content] = vector
                self._fresh_matrix = None

    def discard(self, content: bytes) -> None:
        """Forget a fresh item whose content left the library (indexed ones are filtered by
        the caller until the next build drops them)."""
        with self._lock:
            if self.fresh.pop(content, None) is not None:
                self._fresh_matrix = None

    def fresh_matrix(self) -> tuple[list[bytes], NDArray[np.float32]]:
        with self._lock:
            if self._fresh_matrix is None:
                keys = list(self.fresh)
                matrix = (np.stack([self.fresh[k] for k in keys]) if keys
                          else np.zeros((0, 1), np.float32))
                self._fresh_matrix = (keys, matrix)
            return self._fresh_matrix

    # ---------------------------------------------------------------- search
    def search(self, vector: NDArray[np.float32], k: int) -> list[tuple[bytes, float]]:
        """Up to k (content, cosine) pairs, best first: Annoy's neighbours merged with an exact
        scan of the fresh items."""
        out: list[tuple[bytes, float]] = []
        current = self.current
        k = min(k, (current.size if current else 0) + len(self.fresh))
        if current is not None and current.size and k > 0 and current.matrix is not None:
            sims = current.matrix @ vector
            top = np.argpartition(-sims, min(k, current.size) - 1)[:k] if k < current.size \
                else np.arange(current.size)
            out.extend((current.content(int(i)), float(sims[i])) for i in top)
        elif current is not None and current.size and k > 0:
            items, distances = current.annoy.get_nns_by_vector(
                vector.tolist(), k, search_k=max(self.search_k, 40 * k, current.size // 25),
                include_distances=True)
            out.extend((current.content(i), angular_to_cosine(d))
                       for i, d in zip(items, distances, strict=True))
        keys, matrix = self.fresh_matrix()
        if keys:
            sims = matrix @ vector
            top = np.argsort(-sims)[:k]
            out.extend((keys[i], float(sims[i])) for i in top)
        out.sort(key=lambda pair: -pair[1])
        seen: set[bytes] = set()
        unique = []
        for content, score in out:
            if content not in seen:
                seen.add(content)
                unique.append((content, score))
        return unique[:k]

    # ------------------------------------------------------------- similarity
    def similarity_order(self, neighbours: int = 8) -> list[bytes]:
        """Every item, each followed by its nearest unvisited neighbour (jumping on when
        stuck). Sub-quadratic: k-NN lists from the index, never an N x N matrix. Cached per
        index generation and fresh count."""
        current = self.current
        generation = ((current.number if current else 0), len(self.fresh))
        cached = self._similarity_cache
        if cached is not None and cached[0] == generation:
            return cached[1]
        indexed = current.size if current else 0
        fresh_keys, _ = self.fresh_matrix()
        keys = ([current.content(i) for i in range(indexed)] if current else []) + fresh_keys
        lookup: dict[bytes, int] | None = None

        knn = self._knn_lists(current, neighbours) if current is not None else []

        def near(i: int) -> list[int]:
            nonlocal lookup
            if i < indexed:
                return knn[i][0]
            if lookup is None:
                lookup = {c: n for n, c in enumerate(keys)}
            vector = self.fresh.get(keys[i])
            if vector is None:
                return []
            return [lookup[c] for c, _ in self.search(vector, neighbours + 1) if c in lookup]

        order = [keys[i] for i in greedy_chain(len(keys), near)]
        self._similarity_cache = (generation, order)
        return order

    @staticmethod
    def _knn_lists(current: BuiltIndex, neighbours: int) -> list[tuple[list[int], list[float]]]:
        """Each indexed item's nearest neighbours and their angular distances, from Annoy (it
        drops the GIL), on every core but one and niced: the panel keeps a core meanwhile."""
        from concurrent.futures import ThreadPoolExecutor

        def chunk(start: int) -> list[tuple[list[int], list[float]]]:
            end = min(start + 2048, current.size)
            return [current.annoy.get_nns_by_item(i, neighbours + 1, search_k=neighbours * 25,
                                                  include_distances=True)
                    for i in range(start, end)]

        with ThreadPoolExecutor(max(1, (os.cpu_count() or 2) - 1),
                                initializer=lower_this_thread) as pool:
            parts = pool.map(chunk, range(0, current.size, 2048))
            return [row for part in parts for row in part]

    def close_pairs(self, threshold: float, neighbours: int = 10) -> list[tuple[bytes, bytes]]:
        """Every pair of items whose cosine is at least `threshold`, among each item's nearest
        `neighbours`: Annoy's k-NN lists on all cores for the indexed items, an exact scan for
        the fresh ones. Linear in the library, where comparing all pairs is not."""
        current = self.current
        pairs: list[tuple[bytes, bytes]] = []
        if current is not None and current.size:
            limit = math.sqrt(max(0.0, 2 - 2 * threshold))  # as Annoy's angular distance
            for i, (items, dists) in enumerate(self._knn_lists(current, neighbours)):
                pairs += [(current.content(i), current.content(j))
                          for j, d in zip(items, dists, strict=True) if j > i and d <= limit]
        keys, matrix = self.fresh_matrix()
        if len(keys) > FRESH_PAIRS:  # no index yet for a large library: the build will come
            return pairs
        for lo in range(0, len(keys), 1024):  # fresh with fresh: one product per block
            rows, cols = np.nonzero(matrix[lo : lo + 1024] @ matrix.T >= threshold)
            pairs += [(keys[lo + r], keys[c]) for r, c in zip(rows.tolist(), cols.tolist(),
                                                              strict=True) if lo + r < c]
        if current is not None and current.size:  # fresh with indexed: Annoy's neighbours
            for content, vector in zip(keys, matrix, strict=True):
                pairs += [(content, other) for other, score in self.search(vector, neighbours)
                          if other != content and score >= threshold]
        return pairs

    def all_vectors(self) -> tuple[list[bytes], NDArray[np.float32]]:
        """Every item and its vector (the index's and the fresh ones), as one matrix."""
        current = self.current
        keys: list[bytes] = []
        rows: list[NDArray[np.float32]] = []
        if current is not None and current.size:
            keys = [current.content(i) for i in range(current.size)]
            matrix = current.matrix
            if matrix is None:
                matrix = np.asarray([current.annoy.get_item_vector(i)
                                     for i in range(current.size)], dtype=np.float32)
            rows.append(matrix)
        fresh_keys, fresh = self.fresh_matrix()
        if fresh_keys:
            keys += fresh_keys
            rows.append(fresh)
        if not rows:
            return [], np.zeros((0, 1), dtype=np.float32)
        return keys, np.concatenate(rows) if len(rows) > 1 else rows[0]

    def half_vectors(self) -> tuple[list[bytes], NDArray[np.float16] | NDArray[np.float32]]:
        """Every item and its vector for scoring them all (a concept): the index's float16
        file, memory-mapped, read in a tenth of a second where all_vectors asks Annoy for
        each vector (9 s at 100,000); then the fresh ones. all_vectors where there is no
        such file."""
        current = self.current
        if current is None or current.half is None or not current.size:
            return self.all_vectors()  # an index built empty has no dimension of its own
        keys = [current.content(i) for i in range(current.size)]
        fresh_keys, fresh = self.fresh_matrix()
        if not fresh_keys:
            return keys, current.half
        return keys + fresh_keys, np.concatenate([np.asarray(current.half, np.float32), fresh])

    def sample(self, count: int, seed: int = 0) -> NDArray[np.float32]:
        """Up to `count` vectors chosen at random among every item's, without gathering
        them all (a strong match is told from the rest against such a sample)."""
        current = self.current
        size = current.size if current is not None else 0
        fresh = list(self.fresh.values())
        total = size + len(fresh)
        if not total:
            return np.zeros((0, 1), dtype=np.float32)
        rows = np.sort(np.random.default_rng(seed).choice(total, min(count, total),
                                                          replace=False))
        inside = rows[rows < size]  # one gather from the mapped file, not a view a row
        out: list[NDArray[np.float32]] = []
        if current is not None and current.half is not None:
            out.append(np.asarray(current.half[inside], dtype=np.float32))
        elif current is not None:
            out += [np.asarray(current.annoy.get_item_vector(row), dtype=np.float32)[None]
                    for row in inside.tolist()]
        out += [np.asarray(fresh[row - size], dtype=np.float32)[None]
                for row in rows[len(inside):].tolist()]
        return np.concatenate(out)

    def vector_of(self, content: bytes) -> NDArray[np.float32] | None:
        fresh = self.fresh.get(content)
        if fresh is not None:
            return fresh
        current = self.current
        if current is not None and content in current.position:
            return np.asarray(current.annoy.get_item_vector(current.position[content]),
                              dtype=np.float32)
        return None

    def status(self) -> dict[str, object]:
        current = self.current
        return {
            "items": current.size if current else 0,
            "fresh": len(self.fresh),
            "built_at": current.built_at if current else None,
            "age_s": round(time.time() - current.built_at, 1) if current else None,
            "last_build_s": round(self.last_build_s, 2) if self.last_build_s else None,
            "building": self.building,
            "exact": bool(current is not None and current.matrix is not None),
        }


def greedy_chain(n: int, neighbours: Callable[[int], list[int]]) -> list[int]:
    """Walk from each unvisited item to its nearest unvisited neighbour; jump when stuck."""
    visited = bytearray(n)
    order: list[int] = []
    for start in range(n):
        current = start
        while not visited[current]:
            visited[current] = 1
            order.append(current)
            nxt = next((j for j in neighbours(current) if 0 <= j < n and not visited[j]), None)
            if nxt is None:
                break
            current = nxt
    return order
