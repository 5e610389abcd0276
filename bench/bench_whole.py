"""The whole pipeline with every default stage, against the sum of its parts.

Run: .venv/bin/python bench/bench_whole.py [--photos 48] [--pages 12]

A small phone-like library: real photos (face-api's demo photos, with faces, and
scikit-image's, without), each copy re-encoded so that every file is its own content, and
screenshots of text pages (bench_text's, drawn by Chromium). Every default stage runs
with the models at their real sizes: CLIP ViT-B/32 and buffalo_l's SCRFD-10G and ArcFace
R50 with random weights (bench/.cache; tools/face_real_layout.py), dlib's 68 points, and
the real PP-OCR weights of the rapidocr wheel.

- whole: the real threaded pipeline (the daemon's), from a fresh store until every stage,
  the text stage's background lane included, has finished; wall time and the process's
  CPU time (every thread, ONNX Runtime's included);
- parts: each stage alone, its `process` called in its own batches on the same files,
  decoding for itself, with the inputs the whole run stored (a faces stage's boxes for
  face signals): the CPU time of each, and their sum.

photos per CPU-second, whole against the sum of the parts (goal >= 0.9: the pipeline's
threads, queues and store cost less than a tenth, and its one decode per file is shared),
and the wall time a 10,000-photo library of this mix would take on this machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_clip import MODEL, build_model
from bench_text import pages
from photos import CACHE
from PIL import Image

from anagnorisisd.cli.memory import SETTINGS
from anagnorisisd.config import Config, build_config
from anagnorisisd.ingest.scanner import scan
from anagnorisisd.ml.service import ModelService
from anagnorisisd.pipeline.pixels import FilePixels
from anagnorisisd.pipeline.registry import Assembly, assemble
from anagnorisisd.pipeline.runner import Pipeline
from anagnorisisd.stage import StageContext, StageInput
from anagnorisisd.store.database import Store
from tools.face_real_layout import write_real_size_model
from tools.npm_files import FACE_API_PHOTOS

ROOT = Path(__file__).resolve().parent.parent
FACES = CACHE / "models" / "buffalo_l-real-size"


def library(folder: Path, count: int, page_count: int) -> list[Path]:
    """`count` photos (a third with faces) and `page_count` pages, every file distinct."""
    from skimage import data

    sources = [Image.open(p).convert("RGB") for p in FACE_API_PHOTOS.fetch(ROOT / ".venv"
                                                                          / "npm")]
    for name in ("astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field", "camera"):
        img = getattr(data, name)()
        sources.append(Image.fromarray(img).convert("RGB"))
    out = []
    for i in range(count):
        img = sources[i % len(sources)].copy()
        img.putpixel((i % img.width, 0), (i % 256, 7, 7))  # its own content
        out.append(folder / f"IMG_{i:04d}.jpg")
        img.save(out[-1], quality=92)
    return out + pages(folder, page_count)


def configured(data: Path) -> Config:
    config = build_config({"storage": {"data_dir": str(data)},
                           "model": {"name": MODEL.name, "auto_pull": False,
                                     "providers": ["CPUExecutionProvider"]},
                           "stages": {"faces": {"model": "buffalo_l"}}})
    config.models_dir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(MODEL, config.models_dir / MODEL.name, copy_function=os.link)
    shutil.copytree(FACES, config.models_dir / "facial-recognition" / "buffalo_l",
                    copy_function=os.link)
    return config


def assembled(config: Config) -> Assembly:
    models = ModelService(config, auto_pull=False)
    assert models.load(), models.problem
    assembly = assemble(config, StageContext(config, models))
    assert not assembly.problems, assembly.problems
    for stage in assembly.stages:
        assert stage.ready(), f"{stage.name} is not ready"
    return assembly


def whole(files: list[Path], work: Path) -> tuple[float, float, Store, Config]:
    """The daemon's pipeline over the files: wall and CPU seconds, and its store."""
    config = configured(work / "data")
    assembly = assembled(config)
    store = Store(config.data_dir)
    pipeline = Pipeline(store, assembly, config.pipeline.queue_size)
    wall, cpu = time.perf_counter(), time.process_time()
    pipeline.start()
    scan(store, [str(files[0].parent)], config.library.extensions)
    pipeline.wake()
    while not pipeline.is_idle() or any(lane.pending() for lane in pipeline.lanes):
        time.sleep(0.05)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    pipeline.stop()
    files_done = store.census_snapshot().files
    assert files_done["done"] == len(files), files_done
    return wall, cpu, store, config


def parts(files: list[Path], store: Store, assembly: Assembly) -> list[tuple[str, float]]:
    """Each stage alone on the same files, in its own batches, decoding for itself."""
    out = []
    hashes = {str(f): store.get_file(str(f)).hash for f in files}  # type: ignore[union-attr]
    for stage in assembly.stages:
        cpu = time.process_time()
        batch_size = max(1, stage.batch_size)
        for first in range(0, len(files), batch_size):
            chunk = [str(f) for f in files[first:first + batch_size]]
            sources = [FilePixels(p, lambda: []) for p in chunk]
            items = [StageInput(p, None if stage.keys_content else hashes[p],
                                {key: store.get_result(hashes[p], key) or {}  # type: ignore[arg-type]
                                 for key in stage.requires},
                                source=s, need=stage.pixel_need())
                     for p, s in zip(chunk, sources, strict=True)]
            stage.process(items)
            for source in sources:
                source.release()
        out.append((stage.name, time.process_time() - cpu))
    return out


def main() -> None:
    if not all(k in os.environ for k in SETTINGS):  # the daemon's malloc, as it runs
        os.environ.update(SETTINGS)
        os.execv(sys.executable, [sys.executable, *sys.argv])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=48)
    parser.add_argument("--pages", type=int, default=12)
    args = parser.parse_args()
    build_model()
    if not (FACES / "recognition" / "model.onnx").exists():
        write_real_size_model(FACES)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        folder = Path(tmp) / "library"
        folder.mkdir()
        files = library(folder, args.photos, args.pages)
        wall, cpu, store, config = whole(files, Path(tmp))
        assembly = assembled(config)  # fresh stages: the pipeline's stop closed its own
        timed = parts(files, store, assembly)
        for stage in assembly.stages:
            stage.close()
        store.close()
    n, summed = len(files), sum(seconds for _, seconds in timed)
    print(f"\n{n} files ({args.photos} photos, {args.pages} text pages), {os.cpu_count()} "
          "cores, every default stage at its real size")
    print("| what | CPU s | files per CPU-second |\n|---|---:|---:|")
    for name, seconds in timed:
        print(f"| {name} alone | {seconds:.2f} | {n / seconds:.1f} |")
    print(f"| sum of the parts | {summed:.2f} | {n / summed:.2f} |")
    print(f"| whole pipeline | {cpu:.2f} | {n / cpu:.2f} |")
    print(f"\nwhole / sum of parts, per CPU-second: {summed / cpu:.2f} (goal >= 0.9)")
    print(f"whole pipeline wall: {wall:.1f} s = {n / wall:.2f} files/s; 10,000 files of this "
          f"mix: {10_000 / (n / wall) / 3600:.1f} h on this machine")


if __name__ == "__main__":
    main()
