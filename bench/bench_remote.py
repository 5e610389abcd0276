"""The embedding stage through immich-protocol workers against the same stage run locally and
a bare ONNX Runtime session, in one run, with the bytes each image costs on the network.

Run: make bench-remote   (or: .venv/bin/python bench/bench_remote.py [--images N])

The workers are tests/immich_ml_worker.py (aiohttp, immich's /predict protocol) on 127.0.0.1,
each a process with one ONNX Runtime thread, serving the random-weight ViT-B/32 that
bench_clip.py exports. On a two-core machine they share the cores with the daemon, so this
measures the protocol's cost, not the speed-up a second machine brings.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from anagnorisisd.builtin.clip_stage import ClipStage
from bench_clip import MODEL, bare, build_model, session
from photos import photo_set

from anagnorisisd.config import build_config
from anagnorisisd.ml.layout import ModelFiles
from anagnorisisd.ml.service import ModelService
from anagnorisisd.stage import StageContext, StageInput
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parent.parent


def start_worker() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.immich_ml_worker", "--port", str(port),
                             "--model", MODEL.name, "--model-dir", str(MODEL)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(url + "/ping", timeout=1):
                return proc, url
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the worker did not start")


def embed(files: list[Path], data_dir: Path, **model: object) -> tuple[float, dict]:
    config = build_config({"storage": {"data_dir": str(data_dir)},
                           "model": {"name": MODEL.name, "auto_pull": False,
                                     "providers": ["CPUExecutionProvider"], **model}})
    config.models_dir.mkdir(parents=True, exist_ok=True)
    target = config.models_dir / MODEL.name
    if not target.exists():
        target.symlink_to(MODEL)
    models = ModelService(config, auto_pull=False)
    assert models.load(), models.problem
    defaults = {key: setting.default for key, setting in ClipStage.config_schema.items()}
    stage = ClipStage({"enabled": True, **defaults}, StageContext(config, models))
    inputs = [StageInput(str(f), None) for f in files]
    stage.process(inputs[:8])  # warm-up: sessions, the workers' probe check
    start = time.perf_counter()
    for i in range(0, len(inputs), stage.batch_size):
        outs = stage.process(inputs[i : i + stage.batch_size])
        assert all(o.error is None for o in outs), [o.error for o in outs if o.error]
    seconds = time.perf_counter() - start
    status = models.status()
    stage.close()
    return seconds, status


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=200)
    args = parser.parse_args()
    build_model()
    files = photo_set("photos-3mp", 1000, [3.0])[: args.images]
    n = len(files)
    data = ROOT / "bench" / ".cache" / "remote"
    local_s, _ = embed(files, data / "local")
    workers = [start_worker(), start_worker()]
    try:
        one_s, one = embed(files, data / "one", backend="remote",
                           remote_urls=[workers[0][1]])
        two_s, two = embed(files, data / "two", backend="remote",
                           remote_urls=[w[1] for w in workers])
    finally:
        for proc, _ in workers:
            proc.kill()
    models = ModelService(build_config({"storage": {"data_dir": str(data / "local")},
                                        "model": {"name": MODEL.name, "auto_pull": False}}),
                          auto_pull=False)
    assert models.load()
    pre = models.model().preprocess
    tensors = np.stack([pre.load(str(f)) for f in files])
    bare_s, _ = bare(session(ModelFiles(MODEL.name, MODEL).visual), tensors, 16)
    sent = [w["bytes_per_image"] for w in two["remote"]["workers"] if w["done"]]
    per_worker = ", ".join(f"{w['done']}" for w in two["remote"]["workers"])  # with warm-up
    mb = sum(f.stat().st_size for f in files) / n / 1e6
    print(f"\nViT-B/32 (random weights), {n} JPEGs of 3 MP ({mb:.1f} MB each), "
          f"{os.cpu_count()} cores, workers on 127.0.0.1 with 1 ONNX Runtime thread each\n")
    print("| what | images/s | seconds | note |")
    print("|---|---:|---:|---|")
    print(f"| bare InferenceSession, ready tensors | {n / bare_s:.1f} | {bare_s:.1f} | the limit "
          "for the model alone |")
    print(f"| clip stage, local (files in, vectors out) | {n / local_s:.1f} | {local_s:.1f} | |")
    print(f"| clip stage, one remote worker | {n / one_s:.1f} | {one_s:.1f} | "
          f"{local_s / one_s:.0%} of local; "
          f"{one['remote']['workers'][0]['bytes_per_image']} bytes sent per image |")
    print(f"| clip stage, two remote workers | {n / two_s:.1f} | {two_s:.1f} | "
          f"{local_s / two_s:.0%} of local; images per worker {per_worker} (with the 8 of the "
          f"warm-up); "
          f"{round(float(np.mean(sent)))} bytes per image |")


if __name__ == "__main__":
    main()
