"""The CLIP stage and the whole pipeline against a bare ONNX Runtime session plus one bare
decode, fp32 and int8.

Run: make bench-clip   (or: .venv/bin/python bench/bench_clip.py [--images N])

Uses a ViT-B/32 with random weights (transformers' default CLIPConfig) exported
to our layout: it costs exactly what the real model costs. The export is
cached in bench/.cache/.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"
                       / "anagnorisisd-brightness"))

from anagnorisisd.builtin.clip_stage import ClipStage
from bench_pipeline import run_pipeline
from photos import CACHE, photo_set
from PIL import Image
from providers import providers

from anagnorisisd.config import Config, build_config
from anagnorisisd.imaging.budget import Limits
from anagnorisisd.ml.layout import ModelFiles
from anagnorisisd.ml.service import ModelService
from anagnorisisd.pipeline import registry
from anagnorisisd.pipeline.pixels import FilePixels
from anagnorisisd.stage import PixelNeed, Stage, StageContext, StageInput, StageOutput

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
    return ort.InferenceSession(str(path), options, providers=providers())


def bare(sess: ort.InferenceSession, tensors: np.ndarray, batch: int) -> tuple[float, np.ndarray]:
    sess.run(None, {"image": tensors[:batch]})  # warm-up
    out = []
    start = time.perf_counter()
    for i in range(0, len(tensors), batch):
        out.append(sess.run(["embedding"], {"image": tensors[i : i + batch]})[0])
    return time.perf_counter() - start, np.concatenate(out)


def bare_decode(path: str, size: int = 320) -> None:
    """The one decode a photo needs: at thumbnail scale, which also covers the model's 224
    (or at `size`, for a stage that asks for more)."""
    with Image.open(path) as img:
        img.draft("RGB", (size, size))
        img.load()


class WideView(Stage):
    """A stage that reads a 1,280-pixel view of every photo (what a face detector wants),
    registered in-process the way a test would."""

    name: ClassVar[str] = "wide_view"
    version = "1"
    pixels: ClassVar[PixelNeed | None] = PixelNeed(longest=1280)

    def process(self, batch: list[StageInput]) -> list[StageOutput]:
        return [StageOutput.ok({"width": item.pixels().width}) for item in batch]


def run_with_model(files: list[Path], model: dict[str, Any],
                   more: list[str] | None = None) -> tuple[float, int]:
    """Index the files with the real daemon pipeline (hash, meta, thumbnail, clip, and the
    stages in `more`) into a fresh store; return the seconds and how many images were
    decoded."""

    def install_model(config: Config) -> StageContext:
        config.models_dir.mkdir(parents=True)
        shutil.copytree(MODEL, config.models_dir / MODEL.name, copy_function=os.link)
        models = ModelService(config, auto_pull=False)
        assert models.load(), models.problem
        return StageContext(config, models)

    decodes = Limits.budget.decodes
    seconds, _ = run_pipeline(
        files, ["hash", "meta", "thumbnail", "clip", *(more or [])],
        {"model": {"name": MODEL.name, "auto_pull": False,
                   "providers": providers(), **model}},
        install_model)
    return seconds, Limits.budget.decodes - decodes


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
                           "model": {"name": MODEL.name, "providers": providers()}})
    models = ModelService(config, auto_pull=False)
    assert models.load(), models.problem
    defaults = {key: setting.default for key, setting in ClipStage.config_schema.items()}
    stage = ClipStage({"enabled": True, **defaults}, StageContext(config, models))
    model_batch = stage.model_batch
    inputs = [StageInput(str(f), None, source=FilePixels(str(f), list),
                         need=stage.pixel_need()) for f in files]

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

    pre_exact = replace(pre, draft=False)
    full_start = time.perf_counter()
    for f in files[:50]:
        pre_exact.load(str(f))
    full_per_image = (time.perf_counter() - full_start) / 50

    one_start = time.perf_counter()
    for f in files:
        bare_decode(str(f))
    one_s = time.perf_counter() - one_start
    wide_start = time.perf_counter()
    for f in files:
        bare_decode(str(f), 1280)
    wide_s = time.perf_counter() - wide_start
    registry.register_stage("brightness", "anagnorisisd_brightness:BrightnessStage")
    registry.register_stage("wide_view", "bench_clip:WideView")
    pipe_s, pipe_decodes = run_with_model(files, {})
    example_s, example_decodes = run_with_model(files, {}, ["brightness"])
    peak_before = FilePixels.peak_bytes
    wide_pipe_s, wide_decodes = run_with_model(files, {}, ["wide_view"])
    pipe8_s, pipe8_decodes = run_with_model(files, {"quantized": True})

    n = len(files)
    print(f"\nViT-B/32 (random weights), {n} JPEGs of 3-12 MP ({mb:.0f} MB), batch {model_batch}, "
          f"{os.cpu_count()} cores, ORT {ort.__version__}\n")
    print("| what | images/s | seconds | note |")
    print("|---|---:|---:|---|")
    print(f"| decode + preprocess alone, 1 thread | {n / decode_s:.1f} | {decode_s:.1f} | "
          f"draft decode, resize, crop, normalise |")
    print(f"| the same, full decode ([model] exact_decode = true) | {1 / full_per_image:.1f} "
          f"| | {full_per_image / (decode_s / n):.1f}x the time of a draft decode (50 images) |")
    print(f"| bare decode at thumbnail scale, 1 thread | {n / one_s:.1f} | {one_s:.1f} | "
          f"one decode per photo: the floor |")
    print(f"| bare InferenceSession, fp32, ready tensors | {n / fp32_s:.1f} | "
          f"{fp32_s:.1f} | |")
    print(f"| clip stage end to end (files in, vectors out) | {n / stage_s:.1f} | {stage_s:.1f} | "
          f"{fp32_s / stage_s:.0%} of the bare session |")
    limit = one_s + fp32_s
    print(f"| limit: one bare decode + bare session, fp32 | {n / limit:.1f} | {limit:.1f} | |")
    print(f"| pipeline hash+meta+thumbnail+clip, fp32 | {n / pipe_s:.1f} | {pipe_s:.1f} | "
          f"{limit / pipe_s:.0%} of the limit; {pipe_decodes / n:.2f} decodes per image |")
    print(f"| the same + the example stage (brightness, examples/) | {n / example_s:.1f} | "
          f"{example_s:.1f} | {limit / example_s:.0%} of the limit; "
          f"{example_decodes / n:.2f} decodes per image |")
    wide_limit = wide_s + fp32_s
    print(f"| limit: one bare decode at 1,280 px + bare session, fp32 | {n / wide_limit:.1f} | "
          f"{wide_limit:.1f} | |")
    print(f"| pipeline + a stage reading a 1,280-px view | {n / wide_pipe_s:.1f} | "
          f"{wide_pipe_s:.1f} | {wide_limit / wide_pipe_s:.0%} of that limit; "
          f"{wide_decodes / n:.2f} decodes per image; pixels held at most "
          f"{max(FilePixels.peak_bytes, peak_before) / 1e6:.0f} MB |")
    print(f"| bare InferenceSession, int8 dynamic quantisation | {n / int8_s:.1f} | {int8_s:.1f} | "
          f"{fp32_s / int8_s:.2f}x fp32; cosine to fp32 min {cos.min():.4f}, "
          f"mean {cos.mean():.4f} |")
    limit8 = one_s + int8_s
    print(f"| limit: one bare decode + bare session, int8 | {n / limit8:.1f} | {limit8:.1f} | |")
    print(f"| pipeline hash+meta+thumbnail+clip, int8 | {n / pipe8_s:.1f} | {pipe8_s:.1f} | "
          f"{limit8 / pipe8_s:.0%} of the limit; {pipe8_decodes / n:.2f} decodes per image |")


if __name__ == "__main__":
    main()
