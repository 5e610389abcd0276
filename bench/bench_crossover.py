"""Where exact search stops being free: brute force against the Annoy index, by library size.

For each size, in the same run: the index's own search (Annoy, 64 trees, the daemon's
search_k rule) and exact search (one matrix product over every vector, the limit:
recall 1.0) on the same clustered 512-d unit vectors, 200 queries, k=10. The daemon
searches exactly below `[index] exact_below`; this table is where that default comes from.

    python bench/bench_crossover.py [--sizes 10000,25000,50000,100000,200000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_index import vectors

from anagnorisisd.search.index import VectorIndex

QUERIES, K = 200, 10


def timed_ms(run: object, queries: np.ndarray) -> tuple[float, list[list[bytes]]]:
    found, times = [], []
    for q in queries:
        t0 = time.perf_counter()
        found.append([c for c, _ in run(q, K)])  # type: ignore[operator]
        times.append((time.perf_counter() - t0) * 1000)
    return float(np.percentile(times, 50)), found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10000,25000,50000,100000,200000")
    args = parser.parse_args()
    print("### Exact search against the index: `python bench/bench_crossover.py`\n")
    print("| items | Annoy p50 ms | Annoy recall@10 | exact p50 ms (limit, recall 1.0) | "
          "exact memory MB | faster |")
    print("|---:|---:|---:|---:|---:|---|")
    for n in (int(s) for s in args.sizes.split(",")):
        data = vectors(n).astype(np.float32)
        rng = np.random.default_rng(7)  # queries near real items, as bench_index makes them
        picks = rng.integers(0, n, QUERIES)
        queries = data[picks] + rng.normal(0, 0.03, (QUERIES, data.shape[1]))
        queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
        ids = [i.to_bytes(32, "big") for i in range(n)]
        with tempfile.TemporaryDirectory() as tmp:
            approximate = VectorIndex(Path(tmp) / "a", exact_below=0)
            approximate.build("bench", ids, data)
            exact = VectorIndex(Path(tmp) / "e", exact_below=n)
            exact.build("bench", ids, data)
            annoy_ms, annoy_found = timed_ms(approximate.search, queries)
            exact_ms, truth = timed_ms(exact.search, queries)
            recall = np.mean([len(set(a) & set(t)) / K for a, t in zip(annoy_found, truth,
                                                                         strict=True)])
            assert exact.current is not None and exact.current.matrix is not None
            mb = exact.current.matrix.nbytes / 1e6
        print(f"| {n:,} | {annoy_ms:.2f} | {recall:.3f} | {exact_ms:.2f} | {mb:.0f} | "
              f"{'exact' if exact_ms <= annoy_ms else 'Annoy'} |", flush=True)


if __name__ == "__main__":
    main()
