"""Concepts and tags at 100,000 photos: training a concept and scoring every photo, and
tag: query latency with 1,000 tags.

Run: make bench-concepts   (or: .venv/bin/python bench/bench_concepts.py [--items N])

1. A concept taught with 10 "yes" and 20 "not this" answers (stored as the daemon stores
   them), trained through the Concepts service: its vectors gathered from the built
   vector index, two candidates cross-validated, the winner fitted, every photo scored
   and kept. Against the nearest limits, in the same run: one bare scikit-learn logistic
   regression fit on the same examples, and one bare matrix product over every vector.
   Goal: under 10 s on 2 cores.
2. tag:"…" query p95 through the search service, a page of 50, with 1,000 keywords drawn
   Zipf-wise (a few on tens of thousands of photos, most on a handful) and up to 8 a photo,
   hierarchical ones among them; and -tag:, tag: with a filter, and a query with no tag
   (the listing itself) as the floor. Goal: under 20 ms.

Vectors are bench_index's clustered 512-d unit vectors; a concept is one of their clusters.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from anagnorisisd.features.concepts import learner
from anagnorisisd.features.concepts.service import Concepts
from anagnorisisd.search.catalog_rows import Entry
from anagnorisisd.search.service import SearchService
from anagnorisisd.store.database import Store
from bench.bench_index import vectors
from bench.bench_text import StubModel, StubModels
from tests.helpers import parse

TAGS = 1000


def library(n: int, work: Path) -> tuple[SearchService, list[bytes], np.ndarray]:
    ids = [i.to_bytes(32, "big") for i in range(n)]
    store = Store(work / "store")
    service = SearchService(store, StubModels(StubModel(512)), work / "index")  # type: ignore[arg-type]
    service.index.n_trees = 16
    catalog = service.catalog
    for i, content in enumerate(ids):
        catalog.entries[content] = Entry(4000, 3000 + i % 2, 2_000_000 + i, "jpeg",
                                         described=True, thumbnailed=True)
    catalog.columns()
    data = np.asarray(vectors(n), dtype=np.float32)
    service.index.build("bench", ids, data)
    return service, ids, data


def timed(func: Any, *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = func(*args)
    return time.perf_counter() - start, result


def concept_run(service: SearchService, ids: list[bytes], data: np.ndarray) -> dict[str, float]:
    concepts = Concepts(service.store, service)
    cid = concepts.create("Rex").id
    # a cluster of bench_index's vectors: its nearest 200 to one photo
    anchor = data[0]
    order = np.argsort(-(data @ anchor))
    yes = [ids[i] for i in order[:10]]
    no = [ids[i] for i in order[5000:5020]]
    concepts.answer(cid, yes, "yes")
    concepts.answer(cid, no, "no")
    out: dict[str, float] = {}
    out["gather"], (got_ids, matrix) = timed(concepts.library_vectors, "bench")  # float16 file
    position = {c: i for i, c in enumerate(got_ids)}
    x_yes = matrix[[position[c] for c in yes]]
    x_no = matrix[[position[c] for c in no]]
    background = matrix[np.random.default_rng(0).choice(len(matrix), learner.BACKGROUND,
                                                        replace=False)]
    out["learn"], trained = timed(learner.train, x_yes, x_no, background)
    out["score"], _ = timed(trained.scorer.probabilities, matrix)
    out["service"], concept = timed(concepts.train, cid)
    out["suggestions"] = float(len(concepts.suggestions(cid)))
    out["precision"] = float(concept.metrics["precision"] or 0.0)
    x = np.concatenate([x_yes, x_no, background])
    y = np.r_[np.ones(len(x_yes)), np.zeros(len(x_no) + len(background))]
    out["bare_fit"], _ = timed(LogisticRegression(max_iter=500).fit, x, y)
    out["bare_product"], _ = timed(lambda: matrix @ trained.scorer.weights.astype(np.float32))
    out["bare_annoy"], _ = timed(service.index.all_vectors)
    return out


def tag_queries(service: SearchService, ids: list[bytes], seed: int = 3) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    names = [f"Places|Country {i % 40}|Town {i}" if i % 5 == 0 else f"keyword {i}"
             for i in range(TAGS)]
    p = 1 / np.arange(1, TAGS + 1) ** 1.1
    p /= p.sum()
    counts = rng.integers(0, 9, len(ids))
    drawn = rng.choice(TAGS, int(counts.sum()), p=p)
    at = 0
    start = time.perf_counter()
    for content, count in zip(ids, counts.tolist(), strict=True):
        chosen = sorted(set(drawn[at:at + count].tolist()))
        at += count
        service.catalog.tags.put(content, "file", [(names[t], "xmp") for t in chosen])
    load_s = time.perf_counter() - start
    asked = [names[int(t)] for t in rng.choice(TAGS, 200, p=p)]
    out: dict[str, Any] = {"load_s": load_s}
    for label, make in (("(no tag: the floor)", lambda n: "width>=3000"),
                        ('tag:"…"', lambda n: f'tag:"{n}"'),
                        ('tag:"…" (a level)', lambda n: f'tag:"{n.split("|")[-1]}"'),
                        ('-tag:"…"', lambda n: f'-tag:"{n}"'),
                        ('tag:"…" width>=3001', lambda n: f'tag:"{n}" width>=3001')):
        latencies, totals = [], []
        for name in asked:
            query = parse(make(name))
            begin = time.perf_counter()
            page = service.search(query, 1, 50)
            latencies.append(time.perf_counter() - begin)
            totals.append(page.total)
        out[label] = (float(np.percentile(latencies, 50) * 1000),
                      float(np.percentile(latencies, 95) * 1000), float(np.median(totals)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        service, ids, data = library(args.items, Path(folder))
        concept = concept_run(service, ids, data)
        print(f"1. a concept over {args.items:,} photos (10 yes, 20 not this, 1,000 "
              "background), 2 cores")
        print("| step | seconds |")
        print("|---|---:|")
        for label, key in (("gather every vector (the index's float16 file)", "gather"),
                           ("cross-validate 2 candidates, fit the winner", "learn"),
                           ("score every photo", "score"),
                           ("the whole training, through the service", "service"),
                           ("bare: one LogisticRegression fit", "bare_fit"),
                           ("bare: one matrix product over every vector", "bare_product"),
                           ("bare: every vector from Annoy, one by one", "bare_annoy")):
            print(f"| {label} | {concept[key]:.3f} |")
        print(f"suggestions: {concept['suggestions']:,.0f}; held-out precision "
              f"{concept['precision']:.2f}")
        tags = tag_queries(service, ids)
        print(f"\n2. tag queries at {args.items:,} photos, {TAGS:,} tags (page of 50); "
              f"tags loaded in {tags.pop('load_s'):.1f} s")
        print("| query | p50 ms | p95 ms | median matches |")
        print("|---|---:|---:|---:|")
        for label, (p50, p95, total) in tags.items():
            print(f"| {label} | {p50:.1f} | {p95:.1f} | {total:,.0f} |")
        service.store.close()


if __name__ == "__main__":
    main()
