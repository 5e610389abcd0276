"""The Annoy index of the active model's embeddings, swapped atomically, plus exact fresh items.

An index generation is a few files written under a build number (search/index_files.py:
Annoy's trees in one or more shards, each item's content hash, its float16 vector) and
``current.json`` naming N and the model identity, written last with an atomic
rename. Readers keep using the index they hold while a new one is built, so a
search never waits for a rebuild, and a restart loads the last index instead of
rebuilding. Embeddings that arrived after the build are held in memory and
searched exactly; items deleted since are filtered out by the caller.
"""

from __future__ import annotations

import math
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.foreground import FOREGROUND, aside_every
from anagnorisisd.pipeline.background import lower_this_thread
from anagnorisisd.search.fresh_rows import FreshRows
from anagnorisisd.search.index_build import BuildFailed, build_in_child, finish
from anagnorisisd.search.index_files import (
    SHARD_BYTES,
    drop_other_generations,
    publish,
    sweep,
    write_generation_files,
)
from anagnorisisd.search.index_generation import BuiltIndex, angular_to_cosine, load_generation

FRESH_PAIRS = 20_000
"""Fresh items compared with each other for near-duplicates, at most (an O(n^2) product):
above it, a library with no index yet waits for its first build."""


class VectorIndex:
    """Owns the index files of one data dir; thread-safe for one builder and many readers."""

    def __init__(self, directory: Path, n_trees: int = 64, search_k: int = 10_000,
                 exact_below: int = 30_000, shard_bytes: int = SHARD_BYTES) -> None:
        self.directory = directory
        self.shard_bytes = shard_bytes
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
        self._fresh_rows = FreshRows()
        self._lock = threading.Lock()
        self.building = False
        self.last_build_s: float | None = None
        self._similarity_cache: tuple[tuple[int, int], list[bytes]] | None = None
        self._sample_cache: tuple[tuple[int, int, int, int], NDArray[np.float32]] | None = None
        self._child: subprocess.Popen[str] | None = None
        self._stopping = False

    # ------------------------------------------------------------ lifecycle
    def load(self, identity: str) -> bool:
        """Load the last index built for this model identity, if there is one."""
        built = load_generation(self.directory, identity, self.exact_below)
        if built is None:
            return False
        with self._lock:
            self.current = built
            self.fresh = {k: v for k, v in self.fresh.items() if k not in built.position}
            self._fresh_rows.forget()
        return True

    def build(self, identity: str, ids: list[bytes], vectors: NDArray[np.float32]) -> BuiltIndex:
        """Build a new generation from vectors in hand, in this process, and swap it in (tools
        and benchmarks; the daemon builds from the store in a child: build_from_store)."""
        started = time.monotonic()
        self.directory.mkdir(parents=True, exist_ok=True)
        number = self._next_number()
        dim = int(vectors.shape[1]) if len(vectors) else 1
        items = zip(ids, np.asarray(vectors, dtype=np.float16).reshape(len(ids), dim),
                    strict=True)
        files = write_generation_files(self.directory / str(number), items, self.n_trees,
                                       self.shard_bytes)
        publish(self.directory, {"number": number, "identity": identity,
                                 "built_at": time.time(), **files})
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
                                 number, self.n_trees, self.shard_bytes)
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
        drop_other_generations(self.directory, number)
        self.last_build_s = time.monotonic() - started
        assert self.current is not None
        return self.current

    # ----------------------------------------------------------------- fresh
    def add_fresh(self, content: bytes, vector: NDArray[np.float32]) -> None:
        with self._lock:
            if self.current is None or content not in self.current.position:
                known = content in self.fresh
                self.fresh[content] = vector
                if known:
                    self._fresh_rows.forget()
                else:
                    self._fresh_rows.append(content, vector)

    def discard(self, content: bytes) -> None:
        """Forget a fresh item whose content left the library (indexed ones are filtered by
        the caller until the next build drops them)."""
        with self._lock:
            if self.fresh.pop(content, None) is not None:
                self._fresh_rows.forget()

    def fresh_matrix(self) -> tuple[list[bytes], NDArray[np.float32]]:
        with self._lock:
            return self._fresh_rows.matrix(self.fresh)

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
            items, distances = current.nearest(
                vector.tolist(), k, lambda size: max(self.search_k, 40 * k, size // 25))
            out.extend((current.content(i), angular_to_cosine(d))
                       for i, d in zip(items, distances, strict=True))
        keys, matrix = self.fresh_matrix()
        if keys and k > 0:
            sims = matrix @ vector
            top = (np.argpartition(-sims, k - 1)[:k] if 0 < k < len(keys)
                   else np.arange(len(keys)))  # the k best, sorted with the rest below
            out.extend((keys[i], float(sims[i])) for i in top.tolist())
        out.sort(key=lambda pair: -pair[1])
        seen: set[bytes] = set()
        unique = []
        for content, score in out:
            if content not in seen:
                seen.add(content)
                unique.append((content, score))
        return unique[:k]

    # ------------------------------------------------------------- similarity
    def similarity_ready(self) -> bool:
        """Whether similarity_order is worked out for the index and fresh items as they are."""
        cached = self._similarity_cache
        return cached is not None and cached[0] == self._generation(self.current)

    def _generation(self, current: BuiltIndex | None) -> tuple[int, int]:
        return (current.number if current else 0), len(self.fresh)

    def similarity_order(self, neighbours: int = 8) -> list[bytes]:
        """Every item, each followed by its nearest unvisited neighbour (jumping on when
        stuck). Sub-quadratic: k-NN lists from the index, never an N x N matrix. Cached per
        index generation and fresh count (search/similarity.py: who waits for it)."""
        current = self.current
        generation = self._generation(current)
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
        drops the GIL), on every core but one and niced: the panel keeps a core meanwhile.
        Unless a request waits for them, the lists step aside for requests (foreground.py):
        at 100,000 photos they are seconds of the interpreter lock after every build."""
        from concurrent.futures import ThreadPoolExecutor

        aside = not FOREGROUND.serving_here()

        def chunk(start: int) -> list[tuple[list[int], list[float]]]:
            end = min(start + 2048, current.size)
            items = range(start, end)
            return [current.neighbours(i, neighbours + 1, neighbours * 25)
                    for i in (aside_every(items, 256) if aside else items)]

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
                matrix = (np.asarray(current.half, dtype=np.float32) if current.half is not None
                          else np.asarray([current.vector(i) for i in range(current.size)]))
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
        them all (a strong match is told from the rest against such a sample). Kept while
        the index and the number of fresh items stay (every text query asks; drawing 1,000
        of 100,000 took a millisecond of the interpreter each time)."""
        current = self.current
        size = current.size if current is not None else 0
        key = (*self._generation(current), count, seed)
        kept = self._sample_cache
        if kept is not None and kept[0] == key:
            return kept[1]
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
            out += [current.vector(row)[None] for row in inside.tolist()]
        out += [np.asarray(fresh[row - size], dtype=np.float32)[None]
                for row in rows[len(inside):].tolist()]
        sample = np.concatenate(out)
        sample.setflags(write=False)  # shared by every query until the next
        self._sample_cache = (key, sample)
        return sample

    def vector_of(self, content: bytes) -> NDArray[np.float32] | None:
        fresh = self.fresh.get(content)
        if fresh is not None:
            return fresh
        current = self.current
        if current is not None and content in current.position:
            return current.vector(current.position[content])
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
            "shards": len(current.shards) if current else 0,
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
