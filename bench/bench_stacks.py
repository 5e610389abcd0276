"""Stacks and duplicate groups at 100,000 images, against exact brute force.

Run: make bench-stacks   (or: .venv/bin/python bench/bench_stacks.py [--images N])

The vectors are bench_index's cached clustered 512-d vectors; a fifth of the library is
rewritten into bursts (2-6 shots, 1-3 s apart, each a small perturbation of the one
before), the rest spread over ten years. The grouping runs on a built index, as in the
daemon (where the index is built anyway, for search); the build is timed apart. A tenth
of the photos are RAW+JPEG pairs (so 110,000 files at 100,000 photos), one in twenty
shots is part of an exposure bracket, and the panorama check's pixel step (phase
correlation of two real thumbnails) is timed on each candidate step the loose grouping
finds.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_index import vectors

from anagnorisisd.features.culling.grouping import PANORAMA_SIMILARITY, SAME_PICTURE
from anagnorisisd.features.culling.pixels import frame_shift, pan_direction
from anagnorisisd.features.culling.stacks import StackRules, find_brackets, find_stacks
from anagnorisisd.search.disjoint import DisjointSet
from anagnorisisd.search.index import VectorIndex
from anagnorisisd.search.pairs import find_pairs

THRESHOLD = 0.95


def library(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    vecs = np.array(vectors(n), dtype=np.float32)
    taken = rng.uniform(1.4e9, 1.7e9, n)
    i = 0
    while i < n // 5:
        size = int(rng.integers(2, 7))
        start = taken[i]
        for j in range(1, size):
            if i + j >= n:
                break
            taken[i + j] = start + j * rng.uniform(1, 3)
            vecs[i + j] = vecs[i + j - 1] + rng.normal(0, 0.01, vecs.shape[1])
        i += size
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    return taken, vecs


def real_thumbnails() -> list[bytes]:
    """Two 320-px JPEG thumbnails of real photos (scikit-image's coffee and astronaut)."""
    import io

    from PIL import Image
    from skimage import data

    out = []
    for picture in (data.coffee(), data.astronaut()):
        img = Image.fromarray(picture)
        img.thumbnail((320, 320))
        buffer = io.BytesIO()
        img.save(buffer, "JPEG", quality=85)
        out.append(buffer.getvalue())
    return out


def brute_force_pairs(vecs: np.ndarray, threshold: float) -> int:
    """Every pair above the threshold, by blocked matrix products: the exact answer."""
    count = 0
    for start in range(0, len(vecs), 2048):
        block = vecs[start : start + 2048] @ vecs.T
        rows, cols = np.nonzero(block >= threshold)
        count += int(np.sum(cols > rows + start))
    return count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    args = parser.parse_args()
    n = args.images
    taken, vecs = library(n)
    ids = [i.to_bytes(32, "big") for i in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        index = VectorIndex(Path(tmp), exact_below=0)
        start = time.perf_counter()
        index.build("bench", ids, vecs)
        build_s = time.perf_counter() - start

        start = time.perf_counter()
        keys, matrix = index.all_vectors()
        gather_s = time.perf_counter() - start
        start = time.perf_counter()
        stacks = find_stacks(taken, matrix, np.ones(n, dtype=bool), StackRules())
        stacks_s = time.perf_counter() - start
        files = [(f"/photos/{i // 1000}/IMG_{i:06d}.JPG", ids[i]) for i in range(n)]
        files += [(f"/photos/{i // 1000}/IMG_{i:06d}.CR2", (n + i).to_bytes(32, "big"))
                  for i in range(0, n, 10)]
        start = time.perf_counter()
        raw_pairs = find_pairs(files, lambda c: float("nan"))
        pairs_s = time.perf_counter() - start
        bias = np.full(n, np.nan)
        bias[: n // 20] = np.tile([-2.0, 0.0, 2.0], n // 60 + 1)[: n // 20]
        start = time.perf_counter()
        brackets = find_brackets(taken, bias)
        brackets_s = time.perf_counter() - start
        start = time.perf_counter()
        loose = find_stacks(taken, matrix, np.ones(n, dtype=bool),
                            StackRules(similarity=PANORAMA_SIMILARITY))
        steps = sum(1 for run in loose for a, b in itertools.pairwise(run)
                    if float(matrix[a] @ matrix[b]) < SAME_PICTURE)
        loose_s = time.perf_counter() - start
        thumbs = real_thumbnails()
        start = time.perf_counter()
        for k in range(50):
            pan_direction(frame_shift(thumbs[k % 2], thumbs[(k + 1) % 2]))
        step_s = (time.perf_counter() - start) / 50
        pano_s = loose_s + steps * step_s

        start = time.perf_counter()
        pairs = index.close_pairs(THRESHOLD)
        sets = DisjointSet(n)
        position = {c: i for i, c in enumerate(keys)}
        for a, b in pairs:
            sets.union(position[a], position[b])
        groups = len({sets.find(i) for i in range(n)})
        dup_s = time.perf_counter() - start

    sample = min(n, 20_000)
    start = time.perf_counter()
    exact = brute_force_pairs(vecs[:sample], THRESHOLD)
    brute_s = time.perf_counter() - start
    found = sum(1 for a, b in pairs if position[a] < sample and position[b] < sample)
    in_stacks = sum(len(s) for s in stacks)
    total = gather_s + stacks_s + dup_s + pairs_s + brackets_s + pano_s
    print(f"\n{n:,} images, 512-d, {os.cpu_count()} cores; a fifth in bursts\n")
    print("| what | seconds | note |")
    print("|---|---:|---|")
    print(f"| index build (done for search anyway; not grouping) | {build_s:.1f} | 64 trees |")
    print(f"| gather every vector from the index | {gather_s:.2f} | |")
    print(f"| stacks: sort by time, compare neighbours | {stacks_s:.2f} | {len(stacks):,} stacks,"
          f" {in_stacks:,} images |")
    print(f"| duplicate groups: k-NN lists, cosine >= {THRESHOLD} | {dup_s:.2f} | "
          f"{len(pairs):,} close pairs, {n - groups:,} joins |")
    print(f"| RAW+JPEG pairs among {len(files):,} files | {pairs_s:.2f} | "
          f"{len(raw_pairs):,} pairs |")
    print(f"| exposure brackets (EXIF bias steps) | {brackets_s:.3f} | "
          f"{len(brackets):,} brackets |")
    print(f"| panoramas: loose runs, then a pixel shift per step | {pano_s:.2f} | "
          f"{steps:,} steps less alike than one picture, at {1000 * step_s:.1f} ms each "
          "(measured on real thumbnails) |")
    print(f"| stacks, duplicates, pairs, brackets, panoramas, all | {total:.2f} | "
          "goal: under 30 s |")
    print(f"| exact brute force, all pairs of the first {sample:,} | {brute_s:.2f} | "
          f"{exact:,} pairs; the k-NN lists found {found:,} of them "
          f"({found / max(exact, 1):.1%}); all {n:,} would take about "
          f"{brute_s * (n / sample) ** 2:.0f} s |")


if __name__ == "__main__":
    main()
