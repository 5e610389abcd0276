"""Pipeline throughput against its physical limits, and the unchanged-rescan rate.

Run: make bench   (or: .venv/bin/python bench/bench_pipeline.py [--quick])

Every figure is measured in this run, next to the limit it should be compared
with: `cat` to /dev/null for reading, the bare BLAKE3 loop for hashing, and the
bare stage functions for meta and thumbnail.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from anagnorisisd.builtin.hash_stage import hash_file
from anagnorisisd.builtin.meta_stage import read_meta
from anagnorisisd.builtin.thumbnail_stage import encode, thumbnail_of
from blake3 import blake3
from photos import CACHE, linked_library, photo_set
from PIL import Image

from anagnorisisd.config import Config, build_config
from anagnorisisd.ingest.scanner import scan
from anagnorisisd.pipeline.pixels import FilePixels
from anagnorisisd.pipeline.registry import assemble
from anagnorisisd.pipeline.runner import Pipeline
from anagnorisisd.stage import PixelNeed, StageContext
from anagnorisisd.store.database import Store

THREADS = 2


def total_mb(files: list[Path]) -> float:
    return sum(f.stat().st_size for f in files) / 1e6


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cat_to_null(files: list[Path]) -> float:
    def run() -> None:
        for start in range(0, len(files), 500):
            subprocess.run(["cat", *map(str, files[start:start + 500])],
                           stdout=subprocess.DEVNULL, check=True)
    run()  # warm the page cache
    return timed(run)


def blake3_in_memory_gbps() -> float:
    data = os.urandom(64 << 20)
    seconds = timed(lambda: [blake3(data).digest() for _ in range(4)])
    return 4 * len(data) / seconds / 1e9


def bare_pool(fn, files: list[Path]) -> float:  # type: ignore[no-untyped-def]
    with ThreadPoolExecutor(THREADS) as pool:
        return timed(lambda: list(pool.map(fn, map(str, files), chunksize=16)))


def decode_only(path: str) -> None:
    """Only the JPEG decode a 320 px thumbnail needs: what no thumbnailer can avoid."""
    img = Image.open(path)
    img.draft("RGB", (320, 320))
    img.load()


def cpu_ms(fn: Callable[[str], Any], paths: list[str]) -> float:
    """Milliseconds of this process's CPU per file, one thread."""
    start = time.process_time()
    for path in paths:
        fn(path)
    return (time.process_time() - start) * 1000 / len(paths)


def where_the_time_goes(files: list[Path]) -> None:
    """Each part of the spine alone, in CPU per file, against the pipeline's own CPU per file:
    the floor is the decode; every other part is work a thumbnail cannot skip (the resize,
    the encode) or the spine's own (hash, headers); what is left over is the pipeline's."""
    paths = [str(f) for f in files[:300]]
    sample = Image.open(paths[0])
    sample.draft("RGB", (320, 320))
    sample.load()
    need = PixelNeed(longest=320)
    small = FilePixels._shrink(sample, need)  # the view the thumbnail stage encodes
    parts = {
        "decode at thumbnail scale (the floor)": cpu_ms(decode_only, paths),
        "resize to 320 px (BOX)": cpu_ms(lambda _p: FilePixels._shrink(sample, need), paths),
        "JPEG encode of the thumbnail": cpu_ms(lambda _p: encode(small, "jpeg", 85), paths),
        "BLAKE3 of the file": cpu_ms(hash_file, paths),
        "headers (EXIF, XMP, IPTC, sidecars)": cpu_ms(read_meta, paths),
    }
    start = time.process_time()
    _, count = run_pipeline(files, ["hash", "meta", "thumbnail"])
    pipeline = (time.process_time() - start) * 1000 / count
    print("\n| part, CPU per file | ms |\n|---|---:|")
    for name, ms in parts.items():
        print(f"| {name} | {ms:.2f} |")
    floor, total = parts["decode at thumbnail scale (the floor)"], sum(parts.values())
    print(f"| sum of the parts | {total:.2f} |\n| the pipeline (every thread) | {pipeline:.2f} |")
    print(f"\nThe parts alone allow {floor / total:.0%} of the decode floor; the pipeline "
          f"reaches {floor / pipeline:.0%}, its own cost {pipeline - total:.2f} ms a file.")


def run_pipeline(files: list[Path], stages: list[str],
                 settings: dict[str, Any] | None = None,
                 before: Callable[[Config], StageContext] | None = None) -> tuple[float, int]:
    """Index the files with the real pipeline into a fresh store; return seconds and files.

    `settings` are more config sections; `before` prepares the data directory (a model,
    say) and returns the stages' context."""
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        files_dir = linked_library(files, Path(tmp))
        config = build_config({"storage": {"data_dir": str(Path(tmp) / "data")},
                               "pipeline": {"stages": stages}, **(settings or {})})
        context = before(config) if before else StageContext(config)
        store = Store(config.data_dir)
        pipeline = Pipeline(store, assemble(config, context), config.pipeline.queue_size)
        start = time.perf_counter()
        pipeline.start()
        report = scan(store, [str(files_dir)], config.library.extensions)
        pipeline.wake()
        while not pipeline.is_idle():
            time.sleep(0.01)
        seconds = time.perf_counter() - start
        assert store.census_snapshot().files["done"] == report.seen, "files failed in the bench"
        pipeline.stop()
        store.close()
        return seconds, report.seen


def rescan_unchanged(n: int) -> tuple[float, float]:
    """Seconds for the first scan of n files and for a rescan with nothing changed."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "lib"
        for d in range(n // 1000):
            sub = root / f"{d:03d}"
            sub.mkdir(parents=True)
            for i in range(1000):
                (sub / f"{i:04d}.jpg").write_bytes(b"x")
        store = Store(Path(tmp) / "data")
        first = timed(lambda: scan(store, [str(root)], [".jpg"]))
        again = timed(lambda: scan(store, [str(root)], [".jpg"]))
        store.close()
        return first, again


def row(name: str, files: int, mb: float, seconds: float, limit_s: float | None,
        limit_name: str) -> str:
    vs = f"{limit_s / seconds:.0%} of {limit_name}" if limit_s else ""
    return (f"| {name} | {files / seconds:,.0f} | {mb / seconds:,.0f} | {seconds:.2f} | {vs} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer files (smoke test)")
    args = parser.parse_args()
    n = 200 if args.quick else 1000
    sets = {
        "3 MP": photo_set("photos-3mp", n, [3.0]),
        "4-12 MP": photo_set("photos-mixed", n, [4.0, 6.0, 8.0, 10.0, 12.0], seed=10000),
    }
    print(f"\nmachine: {os.cpu_count()} cores; BLAKE3 in memory, 1 thread: "
          f"{blake3_in_memory_gbps():.2f} GB/s\n")
    print("| what | files/s | MB/s | seconds | against the limit |")
    print("|---|---:|---:|---:|---|")
    for label, files in sets.items():
        mb = total_mb(files)
        count = len(files)
        cat_s = cat_to_null(files)
        print(row(f"{label}: cat > /dev/null (raw read limit)", count, mb, cat_s, None, ""))
        bare_hash_s = bare_pool(hash_file, files)
        print(row(f"{label}: bare BLAKE3 read+hash, {THREADS} threads (hash limit)", count, mb,
                  bare_hash_s, cat_s, "raw read"))
        hash_s, _ = run_pipeline(files, ["hash"])
        print(row(f"{label}: pipeline, hash stage only", count, mb, hash_s, bare_hash_s,
                  "hash limit"))
        meta_s = bare_pool(read_meta, files)
        print(row(f"{label}: bare meta (headers), {THREADS} threads", count, mb, meta_s, None, ""))
        decode_s = bare_pool(decode_only, files)
        print(row(f"{label}: bare JPEG decode at thumbnail scale (decode floor)", count, mb,
                  decode_s, None, ""))
        thumb_s = bare_pool(lambda p: thumbnail_of(p, 320, "jpeg", 85), files)
        print(row(f"{label}: bare thumbnail (draft decode + resize + JPEG)", count, mb,
                  thumb_s, decode_s, "decode floor"))
        bare_sum = bare_hash_s + meta_s + thumb_s
        full_s, _ = run_pipeline(files, ["hash", "meta", "thumbnail"])
        print(row(f"{label}: pipeline hash+meta+thumbnail", count, mb, full_s, bare_sum,
                  "sum of bare stages") + f" {decode_s / full_s:.0%} of the decode floor |")
    where_the_time_goes(sets["3 MP"])
    files_n = 20_000 if args.quick else 100_000
    first, again = rescan_unchanged(files_n)
    print(f"| first scan of {files_n:,} files (queues all) | {files_n / first:,.0f} | | "
          f"{first:.2f} | |")
    print(f"| rescan of {files_n:,} unchanged files | {files_n / again:,.0f} | | {again:.2f} | |")
    print(f"\nphotos cached in {CACHE}; delete it to regenerate.")


if __name__ == "__main__":
    main()
