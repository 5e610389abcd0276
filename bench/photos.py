"""Photo-like JPEG generation for benchmarks: real texture, realistic file sizes, cached."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

CACHE = Path(__file__).resolve().parent / ".cache"


def _texture(rng: np.random.Generator, width: int, height: int) -> Image.Image:
    """Smooth colour fields + edges + fine grain: compresses like a photo, not like noise."""
    small = rng.uniform(0, 255, (max(2, height // 64), max(2, width // 64), 3)).astype(np.uint8)
    base = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    detail = rng.uniform(0, 255, (height // 3, width // 3, 3)).astype(np.uint8)
    edges = Image.fromarray(detail).filter(ImageFilter.GaussianBlur(1.2)).resize(
        (width, height), Image.Resampling.BILINEAR)
    mixed = Image.blend(base, edges, 0.5)
    arr = np.asarray(mixed, dtype=np.int16)
    arr = arr + rng.normal(0, 4, (height, 1, 1)).astype(np.int16)  # banding like real sensors
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def _make(args: tuple[str, int, int, int]) -> int:
    path, width, height, seed = args
    if os.path.exists(path):
        return os.path.getsize(path)
    rng = np.random.default_rng(seed)
    img = _texture(rng, width, height)
    tmp = path + ".tmp"
    img.save(tmp, "JPEG", quality=88)
    os.replace(tmp, path)
    return os.path.getsize(path)


def megapixel_dims(mp: float, aspect: float = 4 / 3) -> tuple[int, int]:
    height = int((mp * 1e6 / aspect) ** 0.5)
    return int(height * aspect), height


def photo_set(name: str, count: int, megapixels: list[float], seed: int = 0) -> list[Path]:
    """`count` JPEGs under bench/.cache/NAME, sizes cycling through `megapixels`."""
    folder = CACHE / name
    folder.mkdir(parents=True, exist_ok=True)
    jobs = []
    for i in range(count):
        mp = megapixels[i % len(megapixels)]
        w, h = megapixel_dims(mp, 4 / 3 if i % 3 else 3 / 2)
        if i % 5 == 4:
            w, h = h, w  # some portrait shots
        jobs.append((str(folder / f"{i // 500:02d}" / f"img_{i:05d}.jpg"), w, h, seed + i))
    for sub in {os.path.dirname(j[0]) for j in jobs}:
        os.makedirs(sub, exist_ok=True)
    missing = [j for j in jobs if not os.path.exists(j[0])]
    if missing:
        print(f"generating {len(missing)} photos for {name} (cached in {folder})...", flush=True)
        with ProcessPoolExecutor(os.cpu_count() or 2) as pool:
            list(pool.map(_make, missing, chunksize=8))
    return [Path(j[0]) for j in jobs]


def linked_library(files: list[Path], folder: Path) -> Path:
    """A library folder holding exactly these files, as hard links: the same bytes without a
    copy, and no other file of the cache gets indexed."""
    library = folder / "library"
    library.mkdir()
    for i, f in enumerate(files):
        os.link(f, library / f"{i:05d}{f.suffix}")
    return library
