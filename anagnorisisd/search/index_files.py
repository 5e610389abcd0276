"""The files of one index generation: how they are named, written, published and swept.

A generation N is ``N.ids`` (each item's 32-byte content hash, in item order), ``N.f16.npy``
(each item's vector in float16) and its Annoy trees: ``N.ann``, and ``N.1.ann``, ``N.2.ann``
… when the library is split into shards. An Annoy build touches every item's node again
and again while it splits, so the whole file it builds is its working memory (the page
cache, counted in the builder's resident set): at 1,000,000 512-d items one file was
2.9 GB. Shards bound that: each is built and let go before the next, so the build's
memory is one shard's file, whatever the library's size. Shard 0 keeps the single
file's name, so a generation written before shards existed loads as one shard.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
from annoy import AnnoyIndex
from numpy.typing import NDArray

SHARD_BYTES = 1 << 30
"""The largest Annoy file one build makes: about 350,000 512-d items with 64 trees."""
TREE_BYTES_PER_ITEM = 16
"""Split nodes an item costs in each tree, about (13 measured at 1,000,000 512-d items:
2.9 GB in all, of which 2.06 GB the items' own nodes)."""
TEMPORARY = (".ann.tmp", ".ids.tmp", ".f16.raw", ".f16.npy.tmp")
KEPT = (".ann", ".ids", ".f16.npy")
CHUNK = 4096
"""Vectors read from the float16 file at once while a shard is filled."""


def shard_items(dim: int, n_trees: int, budget: int = SHARD_BYTES) -> int:
    """How many items one shard holds so that its file stays under `budget`: each item's
    node (Annoy's 12-byte header and its float32s) and its share of every tree's splits."""
    return max(1, budget // (12 + 4 * dim + TREE_BYTES_PER_ITEM * n_trees))


def shard_name(base: Path | str, shard: int) -> str:
    return f"{base}.ann" if shard == 0 else f"{base}.{shard}.ann"


def write_items(base: Path, items: Iterable[tuple[bytes, NDArray[np.float16]]]) -> tuple[int, int]:
    """Stream (content, vector) pairs into the generation's ids and raw float16 files; every
    vector of another length than the first is left out. Returns (dim, count)."""
    dim = count = 0
    with open(f"{base}.f16.raw", "wb") as halves, open(f"{base}.ids.tmp", "wb") as ids:
        for content, vector in items:
            if not count:
                dim = len(vector)
            elif len(vector) != dim:
                continue  # not this model's shape after all: never mixed in
            halves.write(np.asarray(vector, dtype=np.float16).tobytes())
            ids.write(content)
            count += 1
    return max(dim, 1), count  # an empty generation all the same, of dimension 1


def write_trees(base: Path, dim: int, count: int, n_trees: int, per_shard: int) -> int:
    """Build the Annoy shards from the raw float16 file, one after another, each on disk and
    let go before the next; returns how many. Shards are of even size."""
    shards = max(1, math.ceil(count / per_shard))
    size = math.ceil(count / shards) if count else 0
    with open(f"{base}.f16.raw", "rb") as raw:
        for shard in range(shards):
            annoy = AnnoyIndex(dim, "angular")
            annoy.set_seed(42)
            annoy.on_disk_build(shard_name(base, shard) + ".tmp")
            first, end = shard * size, min(count, (shard + 1) * size)
            raw.seek(first * dim * 2)
            for lo in range(first, end, CHUNK):
                rows = min(CHUNK, end - lo)
                block = np.fromfile(raw, dtype=np.float16, count=rows * dim)
                for offset, vector in enumerate(block.reshape(rows, dim).astype(np.float32)):
                    annoy.add_item(lo - first + offset, vector)
            annoy.build(n_trees, n_jobs=-1)
            annoy.unload()
    return shards


def write_halves(base: Path, dim: int, count: int) -> None:
    """The raw float16 file as a NumPy file (memory-mapped by readers), then gone."""
    with open(f"{base}.f16.npy.tmp", "wb") as out, open(f"{base}.f16.raw", "rb") as raw:
        np.lib.format.write_array_header_1_0(out, {"descr": np.dtype(np.float16).str,
                                                   "fortran_order": False,
                                                   "shape": (count, dim)})
        shutil.copyfileobj(raw, out, 1 << 20)
    os.unlink(f"{base}.f16.raw")


def write_generation_files(base: Path, items: Iterable[tuple[bytes, NDArray[np.float16]]],
                           n_trees: int, shard_bytes: int = SHARD_BYTES) -> dict[str, int]:
    """Every file of a generation under temporary names: its dim, count and shards."""
    dim, count = write_items(base, items)
    shards = write_trees(base, dim, count, n_trees, shard_items(dim, n_trees, shard_bytes))
    write_halves(base, dim, count)
    return {"dim": dim, "count": count, "shards": shards}


def publish(directory: Path, meta: dict[str, Any]) -> None:
    """The generation's files under their own names, then current.json naming it."""
    base = directory / str(meta["number"])
    for shard in range(int(meta.get("shards", 1))):
        os.replace(shard_name(base, shard) + ".tmp", shard_name(base, shard))
    os.replace(f"{base}.ids.tmp", f"{base}.ids")
    os.replace(f"{base}.f16.npy.tmp", f"{base}.f16.npy")
    tmp = directory / "current.json.tmp"
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, directory / "current.json")


def sweep(directory: Path) -> None:
    """Temporary files of a build that never finished."""
    for suffix in TEMPORARY:
        for leftover in directory.glob(f"*{suffix}"):
            leftover.unlink(missing_ok=True)


def drop_other_generations(directory: Path, number: int) -> None:
    """Every kept file of a generation other than `number` (its shards included)."""
    for path in directory.iterdir():
        head = path.name.split(".", 1)[0]
        if head.isdigit() and int(head) != number and path.name.endswith(KEPT):
            path.unlink(missing_ok=True)
