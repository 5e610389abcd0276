"""Installing immich's text models: `model pull PP-OCRv5_mobile`, `model import FOLDER`.

They live in DATA_DIR/models/ocr/NAME/{detection,recognition}/model.onnx, immich's own
layout, pulled from the hub's immich-app/NAME repositories (only the two graphs) or
copied from a folder after both graphs read a probe page with known words, so a broken
or mislabelled model is refused in one line. A face model has the same two files: a
folder is taken for a text model when its name is one of immich's text models or its
recognition graph carries PP-OCR's character list.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from anagnorisisd.config import Config
from anagnorisisd.ml.layout import ModelError
from anagnorisisd.ml.ocr import LAYOUT, OCR_MODELS, WHEEL_MODEL, LocalText, OcrFiles, ocr_files


def is_text_model(folder: Path) -> bool:
    if not all((folder / part).is_file() for part in LAYOUT):
        return False
    if folder.name in OCR_MODELS:
        return True
    try:
        import onnxruntime as ort

        session = ort.InferenceSession(str(folder / LAYOUT[1]),
                                       providers=["CPUExecutionProvider"])
        return "character" in session.get_modelmeta().custom_metadata_map
    except Exception:
        return False


def verify_text_model(files: OcrFiles) -> None:
    """Both graphs read the probe page's words, or ModelError says what went wrong."""
    from anagnorisisd.ml.remote_text import PROBE_WORDS, probe_page, words_of

    try:
        read = words_of(LocalText(files).read(probe_page()))
    except ModelError:
        raise
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"text model '{files.name}' fails on a probe page: {first}") from None
    if PROBE_WORDS[0].lower() not in read:
        raise ModelError(f"text model '{files.name}' reads the probe page as {read[:60]!r}, "
                         f"not {' '.join(PROBE_WORDS)!r}")


def import_text_model(config: Config, source: Path) -> OcrFiles:
    source = source.resolve()
    if source.name == WHEEL_MODEL:
        raise ModelError(f"{WHEEL_MODEL} is the rapidocr wheel's own model; name the folder "
                         "after the model it holds")
    verify_text_model(OcrFiles(source.name, source / LAYOUT[0], source / LAYOUT[1]))
    target = ocr_files(config.models_dir, source.name)
    root = target.detection.parent.parent
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{source.name}.", dir=root.parent))
    try:
        for part in LAYOUT:
            (staging / "m" / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / part, staging / "m" / part)
        if root.exists():
            shutil.rmtree(root)
        (staging / "m").rename(root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def pull_text_model(config: Config, name: str) -> OcrFiles:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    if name == WHEEL_MODEL:
        return ocr_files(config.models_dir, name)  # inside the wheel already
    target = ocr_files(config.models_dir, name)
    root = target.detection.parent.parent
    root.mkdir(parents=True, exist_ok=True)
    repo = f"{config.model.hub_org}/{name}"
    try:
        snapshot_download(repo_id=repo, allow_patterns=list(LAYOUT), local_dir=root,
                          max_workers=2)
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot download {repo}: {first}") from None
    target.validate()
    return target
