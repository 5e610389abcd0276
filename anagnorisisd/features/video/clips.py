"""What the video feature keeps of every clip: its length and facts from the metadata stage,
and its scenes' vectors from the embedding stage, in memory for search.

Videos are a small share of a library, so their scenes are searched by brute force: every
scene vector of the current model in one matrix (rebuilt after a change, at most once per
search), one matrix product per query, and the best scene of each clip by a segmented
maximum. A 100,000-photo library with 5,000 clips of 16 scenes is an 80,000 x 512 matrix:
tens of milliseconds (bench/bench_video.py measures it beside the index's own search).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.imaging.video import VIDEO_SUFFIXES

VIDEO_FORMATS = frozenset(s.lstrip(".") for s in VIDEO_SUFFIXES)
"""The metadata stage records a video's format as its file's extension."""
FACTS = ("duration_s", "fps", "codec", "rotation", "content_id")
CHUNK_CELLS = 1 << 24


@dataclass
class Scenes:
    model: str
    times: NDArray[np.float32]
    rows: NDArray[np.float32]


@dataclass
class Matrix:
    model: str
    owners: list[bytes]
    starts: NDArray[np.intp]
    times: NDArray[np.float32]
    rows: NDArray[np.float32]


class Clips:
    """Every clip's facts and scenes, kept current from the stages' results."""

    def __init__(self, store: Any, catalog: Any, meta_stage: str | None,
                 embedding_stage: str | None) -> None:
        self.store, self.catalog = store, catalog
        self.meta_stage, self.embedding_stage = meta_stage, embedding_stage
        self.facts: dict[bytes, dict[str, Any]] = {}
        self.scenes: dict[bytes, Scenes] = {}
        self._matrix: Matrix | None = None
        self._lock = threading.Lock()
        self.version = 0
        """Moves when a clip's facts come or go (what the feature's caches follow)."""

    def load(self) -> None:
        columns = self.catalog.columns()  # not every photo's row made an object
        is_clip = np.isin(columns.format, sorted(VIDEO_FORMATS))
        for content in [columns.ids[row] for row in np.flatnonzero(is_clip)]:
            self.read(content)

    def read(self, content: bytes) -> None:
        """A content's results, from the store (at load, and when it comes back)."""
        for stage in (self.meta_stage, self.embedding_stage):
            output = self.store.get_result(content, stage) if stage else None
            if output:
                self.on_result(stage or "", content, output)

    def on_result(self, stage: str, content: bytes, output: dict[str, Any]) -> None:
        if stage == self.meta_stage and output.get("kind") == "video":
            with self._lock:
                self.facts[content] = {k: output.get(k) for k in FACTS}
                self.version += 1
        elif stage == self.embedding_stage and output.get("moment_embeddings"):
            times = np.asarray(output.get("moments") or [], dtype=np.float32)
            rows = np.frombuffer(output["moment_embeddings"], dtype=np.float16)
            dim = int(output.get("dim") or 0)
            if dim <= 0 or len(rows) != dim * len(times):
                return  # not what the embedding stage writes: nothing to search by
            with self._lock:
                self.scenes[content] = Scenes(str(output.get("model")), times,
                                              rows.reshape(len(times), dim).astype(np.float32))
                self._matrix = None

    def forget(self, died: list[bytes]) -> None:
        with self._lock:
            for content in died:
                if self.facts.pop(content, None) is not None:
                    self.version += 1
                if self.scenes.pop(content, None) is not None:
                    self._matrix = None

    def is_video(self, content: bytes) -> bool:
        return content in self.facts

    def duration(self, content: bytes) -> float:
        value = self.facts.get(content, {}).get("duration_s")
        return float(value) if isinstance(value, int | float) else float("nan")

    def matrix(self, model: str) -> Matrix | None:
        with self._lock:
            if self._matrix is not None and self._matrix.model == model:
                return self._matrix
            owners = [c for c, s in self.scenes.items() if s.model == model]
            if not owners:
                return None
            parts = [self.scenes[c] for c in owners]
            counts = np.asarray([len(p.times) for p in parts], dtype=np.intp)
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
            self._matrix = Matrix(model, owners, starts,
                                  np.concatenate([p.times for p in parts]),
                                  np.concatenate([p.rows for p in parts]))
            return self._matrix

    def best(self, model: str, vector: NDArray[np.float32], limit: int,
             among: list[bytes] | None = None) -> dict[bytes, tuple[float, float]]:
        """Each clip's best scene for `vector`: (cosine, its time), for the `limit` best
        clips or for exactly those `among`."""
        if among is not None:
            return {c: self._one(s, vector) for c in among
                    if (s := self.scenes.get(c)) is not None and s.model == model}
        matrix = self.matrix(model)
        if matrix is None or limit <= 0 or matrix.rows.shape[1] != vector.shape[0]:
            return {}
        scores = matrix.rows @ vector
        best = np.maximum.reduceat(scores, matrix.starts)
        chosen = np.argsort(-best, kind="stable")[:limit]
        out = {}
        for clip in chosen:
            start = int(matrix.starts[clip])
            end = int(matrix.starts[clip + 1]) if clip + 1 < len(matrix.starts) else len(scores)
            at = start + int(np.argmax(scores[start:end]))
            out[matrix.owners[clip]] = (float(best[clip]), float(matrix.times[at]))
        return out

    def contained(self, model: str, threshold: float) -> list[tuple[bytes, bytes]]:
        """Clip pairs where each scene of one is a scene of the other (cosine at least
        `threshold`): a clip trimmed from another, or cut from the same footage. Every
        scene is compared with every other clip's, a chunk of rows at a time (the cost
        grows with the square of the scenes: bench/bench_video.py measures it)."""
        matrix = self.matrix(model)
        if matrix is None or len(matrix.owners) < 2:
            return []
        owner = np.repeat(np.arange(len(matrix.owners)), np.diff(
            np.append(matrix.starts, len(matrix.times))))
        counts = np.bincount(owner)
        matched: dict[tuple[int, int], int] = {}
        chunk = max(1, CHUNK_CELLS // len(owner))  # a chunk's scores stay near 64 MB
        for start in range(0, len(owner), chunk):
            scores = matrix.rows[start : start + chunk] @ matrix.rows.T
            rows, cols = np.nonzero(scores >= threshold)
            theirs = owner[cols]
            keep = owner[rows + start] != theirs
            for scene, other in set(zip((rows[keep] + start).tolist(), theirs[keep].tolist(),
                                        strict=True)):
                key = (int(owner[scene]), other)
                matched[key] = matched.get(key, 0) + 1
        return [(matrix.owners[a], matrix.owners[b]) for (a, b), n in matched.items()
                if n == counts[a]]

    @staticmethod
    def _one(scenes: Scenes, vector: NDArray[np.float32]) -> tuple[float, float]:
        if scenes.rows.shape[1] != vector.shape[0]:
            return float("nan"), 0.0
        scores = scenes.rows @ vector
        at = int(np.argmax(scores))
        return float(scores[at]), float(scenes.times[at])
