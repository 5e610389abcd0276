"""The CLIP stage against a bare ONNX Runtime session, and int8 against fp32.

Run: make bench-clip   (or: .venv/bin/python bench/bench_clip.py [--images N])

Uses a ViT-B/32 with random weights (transformers' default CLIPConfig) exported
to our layout: it costs exactly what the real model costs. The export is
cached in bench/.cache/.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from anagnorisisd.builtin.clip_stage import ClipStage
from photos import CACHE, photo_set

from anagnorisisd.config import build_config
from anagnorisisd.ml.layout import ModelFiles
from anagnorisisd.ml.service import ModelService
from anagnorisisd.stage import StageContext, StageInput

MODEL = CACHE / "models" / "vit-b-32-random"


def build_model() -> None:
    if (MODEL / "visual" / "model.onnx").exists():
        return
    from tools.export_layout import random_vit_b32

    print("exporting a random ViT-B/32 to", MODEL, flush=True)
    MODEL.parent.mkdir(parents=True, exist_ok=True)
    random_vit_b32(MODEL)


def quantized() -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = MODEL / "visual" / "model.int8.onnx"
    if not out.exists():
        quantize_dynamic(str(MODEL / "visual" / "model.onnx"), str(out),
                         weight_type=QuantType.QInt8)
    return out


def session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def bare(sess: ort.InferenceSession, tensors: np.ndarray, batch: int) -> tuple[float, np.ndarray]:
    sess.run(None, {"image": tensors[:batch]})  # warm-up
    out = []
    start = time.perf_counter()
    for i in range(0, len(tensors), batch):
        out.append(sess.run(["embedding"], {"image": tensors[i : i + batch]})[0])
    return time.perf_counter() - start, np.concatenate(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=500)
    args = parser.parse_args()
    build_model()
    half = args.images // 2
    files = (photo_set("photos-3mp", 1000, [3.0])[:half]
             + photo_set("photos-mixed", 1000, [4.0, 6.0, 8.0, 10.0, 12.0], seed=10000)[
                 : args.images - half])
    mb = sum(f.stat().st_size for f in files) / 1e6
    config = build_config({"storage": {"data_dir": str(CACHE)},
                           "model": {"name": MODEL.name, "providers": ["CPUExecutionProvider"]}})
    models = ModelService(config, auto_pull=False)
    assert models.load(), models.problem
    stage = ClipStage({"enabled": True, **ClipStage.default_config}, StageContext(config, models))
    model_batch = stage.model_batch
    inputs = [StageInput(str(f), None) for f in files]

    stage.process(inputs[:model_batch])  # warm-up: session, decoder threads
    start = time.perf_counter()
    for i in range(0, len(inputs), stage.batch_size):
        outs = stage.process(inputs[i : i + stage.batch_size])
        assert all(o.error is None for o in outs)
    stage_s = time.perf_counter() - start
    stage.close()

    pre = models.model().preprocess
    decode_start = time.perf_counter()
    tensors = np.stack([pre.load(str(f)) for f in files])
    decode_s = time.perf_counter() - decode_start
    fp32_s, fp32 = bare(session(ModelFiles(MODEL.name, MODEL).visual), tensors, model_batch)
    int8_s, int8 = bare(session(quantized()), tensors, model_batch)
    fp32 /= np.linalg.norm(fp32, axis=1, keepdims=True)
    int8 /= np.linalg.norm(int8, axis=1, keepdims=True)
    cos = (fp32 * int8).sum(axis=1)

    n = len(files)
    print(f"\nViT-B/32 (random weights), {n} JPEGs of 3-12 MP ({mb:.0f} MB), batch {model_batch}, "
          f"{os.cpu_count()} cores, ORT {ort.__version__}\n")
    print("| what | images/s | seconds | note |")
    print("|---|---:|---:|---|")
    print(f"| decode + preprocess alone, 1 thread | {n / decode_s:.1f} | {decode_s:.1f} | "
          f"draft decode, resize, crop, normalise |")
    print(f"| bare InferenceSession, fp32, ready tensors (limit) | {n / fp32_s:.1f} | "
          f"{fp32_s:.1f} | |")
    print(f"| clip stage end to end (files in, vectors out) | {n / stage_s:.1f} | {stage_s:.1f} | "
          f"{fp32_s / stage_s:.0%} of the bare session |")
    print(f"| bare InferenceSession, int8 dynamic quantisation | {n / int8_s:.1f} | {int8_s:.1f} | "
          f"{fp32_s / int8_s:.2f}x fp32; cosine to fp32 min {cos.min():.4f}, "
          f"mean {cos.mean():.4f} |")


if __name__ == "__main__":
    main()
