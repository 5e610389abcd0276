"""The vector index at 100k and 1M items against exact brute-force search.

Run: make bench-index   (or: .venv/bin/python bench/bench_index.py [--sizes 100000 1000000])

Vectors are synthetic 512-d unit vectors drawn around 2,000 cluster centres
(uniform random vectors in 512-d have no meaningful neighbours; photo
embeddings are clustered), stored as the clip stage's results in an LMDB store (cached).
Each size is built as the daemon builds it (from the store, in a child process, on disk)
and queried in its own process, so that peak and resident memory are the index's alone.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from anagnorisisd.search.catalog import Catalog
from anagnorisisd.search.catalog_rows import Entry
from anagnorisisd.search.index import VectorIndex

CACHE = Path(__file__).resolve().parent / ".cache"
DIM = 512
QUERIES = 200


def vectors(n: int, seed: int = 0) -> np.ndarray:
    """n clustered unit vectors, float16 on disk, cached."""
    path = CACHE / f"vectors-{n}.npy"
    if path.exists():
        return np.load(path, mmap_mode="r")
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(2000, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    out = np.empty((n, DIM), np.float16)
    for start in range(0, n, 50_000):
        m = min(50_000, n - start)
        v = centres[rng.integers(0, len(centres), m)] + rng.normal(0, 0.045, (m, DIM))
        out[start : start + m] = v / np.linalg.norm(v, axis=1, keepdims=True)
    CACHE.mkdir(exist_ok=True)
    np.save(path, out)
    return out


def rss_mb(field: str = "VmRSS") -> float:
    """Resident memory in MB: VmRSS is all of it; RssAnon the process's own, RssFile the
    mapped index file's pages (page cache the kernel can take back)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def stored(n: int) -> Path:
    """A store holding the n vectors as the clip stage's results (cached): what the daemon
    builds its index from."""
    from anagnorisisd.store.database import Store

    data_dir = CACHE / f"store-{n}"
    if (data_dir / "complete").exists():
        return data_dir
    data = vectors(n)
    store = Store(data_dir)
    for lo in range(0, n, 10_000):
        with store.write() as w:
            for i in range(lo, min(n, lo + 10_000)):
                path, content = f"/bench/{i:07d}.jpg", i.to_bytes(32, "big")
                w.seen(path, 1000, 1_700_000_000_000_000_000 + i)
                record = w.file(path)
                assert record is not None
                w.set_hash(path, record.gen, content, 1000, 1_700_000_000_000_000_000 + i)
                w.put_result(content, "clip", "2:bench", {
                    "model": "bench", "dim": DIM, "embedding": np.asarray(
                        data[i], dtype=np.float16).tobytes()})
                w.finish(path, record.gen, None)
    store.close()
    (data_dir / "complete").touch()
    return data_dir


def child_build(n: int, directory: str) -> None:
    """The daemon's build: from the store, in a child of this process (search/index_build);
    the child's peak memory is the build's, this process's growth is the daemon's."""
    from anagnorisisd.store.database import Store

    store = Store(stored(n))
    index = VectorIndex(Path(directory))
    before = rss_mb()
    peaks = {"RssAnon": 0.0, "RssFile": 0.0}
    done = threading.Event()

    def watch() -> None:
        """The builder's own memory (RssAnon) and its mapped files' pages (RssFile), sampled:
        ru_maxrss says only their largest sum."""
        while not done.wait(0.05):
            child = index._child
            if child is None:
                continue
            try:
                lines = Path(f"/proc/{child.pid}/status").read_text().splitlines()
            except OSError:
                continue
            for line in lines:
                field = line.split(":")[0]
                if field in peaks:
                    peaks[field] = max(peaks[field], int(line.split()[1]) / 1024)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    start = time.perf_counter()
    index.build_from_store("bench", store.path.parent, int(store.env.info()["map_size"]),
                           "clip")
    seconds = time.perf_counter() - start
    done.set()
    watcher.join()
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"build_s": seconds, "peak_rss_mb": peak, "anon_peak_mb": peaks["RssAnon"],
                      "file_peak_mb": peaks["RssFile"], "daemon_mb": rss_mb() - before,
                      "shards": len(index.current.shards) if index.current else 0}))


def child_query(n: int, directory: str, queries_path: str) -> None:
    index = VectorIndex(Path(directory))
    assert index.load("bench")
    # What else the daemon keeps per image: the catalog behind filters and sorts.
    catalog = Catalog.__new__(Catalog)
    catalog._entries, catalog._columns, catalog.version = {}, None, 0
    catalog._frozen, catalog._lock = None, threading.RLock()
    for i in range(n):
        catalog.entries[i.to_bytes(32, "big")] = Entry(4000, 3000, 2_000_000 + i, "jpeg")
    catalog.columns()
    queries = np.load(queries_path)
    latencies, results = [], []
    for q in queries:
        start = time.perf_counter()
        hits = index.search(q, 10)
        latencies.append(time.perf_counter() - start)
        results.append([int.from_bytes(c, "big") for c, _ in hits])
    out = {"p50_ms": float(np.percentile(latencies, 50) * 1000),
           "p95_ms": float(np.percentile(latencies, 95) * 1000),
           "results": results, "rss_mb": rss_mb(), "anon_mb": rss_mb("RssAnon"),
           "file_mb": rss_mb("RssFile")}
    if n <= 200_000:
        start = time.perf_counter()
        order = index.similarity_order()
        out["similarity_s"] = time.perf_counter() - start
        assert len(order) == n
    print(json.dumps(out))


def brute_force(data: np.ndarray, queries: np.ndarray) -> tuple[list[list[int]], float]:
    """Exact top 10 by cosine, in float32, chunked; returns the answers and ms per query."""
    best = np.full((len(queries), 10), -1, dtype=np.int64)
    best_scores = np.full((len(queries), 10), -np.inf, dtype=np.float32)
    start = time.perf_counter()
    for lo in range(0, len(data), 100_000):
        chunk = np.asarray(data[lo : lo + 100_000], dtype=np.float32)
        scores = queries @ chunk.T
        scores = np.concatenate([best_scores, scores], axis=1)
        ids = np.concatenate([best, np.arange(lo, lo + len(chunk))[None].repeat(len(queries),
                                                                              0)], axis=1)
        top = np.argpartition(-scores, 10, axis=1)[:, :10]
        best_scores = np.take_along_axis(scores, top, 1)
        best = np.take_along_axis(ids, top, 1)
    ms = (time.perf_counter() - start) * 1000 / len(queries)
    return [list(map(int, row)) for row in best], ms


def text_encoding_ms() -> float | None:
    """p50 of encoding a new text query with a ViT-B/32 text tower (if bench_clip built one)."""
    model_dir = CACHE / "models" / "vit-b-32-random"
    if not (model_dir / "textual" / "model.onnx").exists():
        return None
    from anagnorisisd.ml.clip import ClipModel
    from anagnorisisd.ml.layout import ModelFiles
    from anagnorisisd.ml.session import SessionSettings

    model = ClipModel(ModelFiles(model_dir.name, model_dir),
                      SessionSettings(("CPUExecutionProvider",)))
    model.embed_text("warm up")
    times = []
    for i in range(30):
        start = time.perf_counter()
        model.embed_text(f"a photo of sunset number {i} over the sea")
        times.append(time.perf_counter() - start)
    return float(np.percentile(times, 50) * 1000)


def run_child(*args: str) -> dict:
    result = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True,
                            check=True)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, n, *rest = args.child
        (child_build if kind == "build" else child_query)(int(n), *rest)  # type: ignore[operator]
        return
    text_ms = text_encoding_ms()
    print(f"\n{os.cpu_count()} cores; 512-d clustered unit vectors; Annoy angular, "
          f"{VectorIndex(CACHE).n_trees} trees; {QUERIES} queries, k=10\n")
    print("| items | build s | build peak RSS MB (the builder's own / its files' pages at their "
          "peaks; the daemon's own growth; shards) | "
          "p50 ms | p95 ms | p95 + text ms | recall@10 | brute force ms/query | "
          "serving RSS MB (own + index file pages) | similarity order s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in args.sizes:
        data = vectors(n)
        rng = np.random.default_rng(1)
        picks = rng.integers(0, n, QUERIES)
        queries = np.asarray(data[picks], dtype=np.float32) + rng.normal(0, 0.03, (QUERIES, DIM))
        queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
        exact, brute_ms = brute_force(data, queries)
        with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
            built = run_child("--child", "build", str(n), tmp)
            qpath = str(Path(tmp) / "queries.npy")
            np.save(qpath, queries)
            served = run_child("--child", "query", str(n), tmp, qpath)
        recall = np.mean([len(set(a) & set(e)) / 10 for a, e in
                          zip(served["results"], exact, strict=True)])
        with_text = f"{served['p95_ms'] + text_ms:.1f}" if text_ms else "n/a"
        sim = f"{served['similarity_s']:.1f}" if "similarity_s" in served else "-"
        print(f"| {n:,} | {built['build_s']:.1f} | {built['peak_rss_mb']:,.0f} "
              f"({built['anon_peak_mb']:,.0f} / {built['file_peak_mb']:,.0f}; "
              f"{built['daemon_mb']:+,.0f}; {built['shards']}) | "
              f"{served['p50_ms']:.2f} | {served['p95_ms']:.2f} | {with_text} | {recall:.3f} | "
              f"{brute_ms:.1f} | {served['rss_mb']:,.0f} ({served['anon_mb']:,.0f} + "
              f"{served['file_mb']:,.0f}) | {sim} |", flush=True)
    if text_ms:
        print(f"\ntext encoding (ViT-B/32 text tower, new query, p50): {text_ms:.1f} ms")


if __name__ == "__main__":
    main()
