"""Installing immich's face models: `model pull buffalo_l`, `model import FOLDER`.

They live in DATA_DIR/models/facial-recognition/NAME, immich's own layout, pulled from the
hub's immich-app/NAME repositories (only the two graphs) or copied from a folder after a
test run of both graphs on a probe photo, so a broken model is refused in one line.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np

from anagnorisisd.config import Config
from anagnorisisd.ml.faces import LAYOUT, FaceFiles, LocalFaces, face_files
from anagnorisisd.ml.layout import ModelError
from anagnorisisd.ml.session import SessionSettings


def is_face_model(folder: Path) -> bool:
    return any((folder / part).is_file() for part in LAYOUT)


def verify_face_model(files: FaceFiles) -> None:
    from anagnorisisd.ml.remote_faces import probe_photo

    model = LocalFaces(files, SessionSettings(("CPUExecutionProvider",)))
    try:
        found, _ = model.faces(probe_photo(), 0.5, most=1)
        if found:
            model.describe(probe_photo(), np.asarray([f.landmarks for f in found[:1]],
                                                     dtype=np.float32))
    except ModelError:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"face model '{files.name}' fails on a probe photo: {first}") from None


def import_face_model(config: Config, source: Path) -> FaceFiles:
    source = source.resolve()
    verify_face_model(FaceFiles(source.name, source))
    target = face_files(config.models_dir, source.name)
    target.root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{source.name}.", dir=target.root.parent))
    try:
        for part in LAYOUT:
            (staging / "m" / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, staging / "m" / part)
        if target.root.exists():
            shutil.rmtree(target.root)
        (staging / "m").rename(target.root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def pull_face_model(config: Config, name: str) -> FaceFiles:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    target = face_files(config.models_dir, name)
    target.root.mkdir(parents=True, exist_ok=True)
    repo = f"{config.model.hub_org}/{name}"
    try:
        snapshot_download(repo_id=repo, allow_patterns=list(LAYOUT), local_dir=target.root,
                          max_workers=2)
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot download {repo}: {first}") from None
    target.validate()
    return target
