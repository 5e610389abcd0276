"""Installed models: where they live, importing a folder, pulling from the hub.

Models live in DATA_DIR/models/NAME in the immich-app layout. `pull` uses
huggingface_hub, so HF_ENDPOINT, HF_TOKEN and resumable downloads work as
they do everywhere else; only the layout's files are fetched.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from anagnorisisd.config import Config
from anagnorisisd.ml.layout import DOWNLOAD_PATTERNS, ModelError, ModelFiles, install_hint

log = logging.getLogger(__name__)


def shipped_model_dir(name: str) -> Path:
    """A model that ships inside the package (the small demo model), found through
    importlib.resources so it works from a wheel as from the repository."""
    folder = Path(str(resources.files("anagnorisisd.ml") / "shipped" / name))
    if not folder.is_dir():
        raise ModelError(f"no shipped model named {name!r}")
    return folder


def model_files(config: Config, name: str | None = None) -> ModelFiles:
    name = name or config.model.name
    return ModelFiles(name, config.models_dir / name)


def installed(config: Config) -> list[ModelFiles]:
    if not config.models_dir.is_dir():
        return []
    found = []
    for folder in sorted(config.models_dir.iterdir()):
        files = ModelFiles(folder.name, folder)
        try:
            files.validate()
        except ModelError:
            continue
        found.append(files)
    return found


def import_model(config: Config, source: Path) -> ModelFiles:
    """Copy a model folder in, after checking its layout; its name is the folder's name."""
    source = source.resolve()
    verify(ModelFiles(source.name, source))
    target = config.models_dir / source.name
    config.models_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{source.name}.", dir=config.models_dir))
    try:
        shutil.copytree(source, staging / "m", ignore=shutil.ignore_patterns(".cache"))
        if target.exists():
            shutil.rmtree(target)
        (staging / "m").rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ModelFiles(source.name, target)


def verify(files: ModelFiles) -> None:
    """Load both graphs and run one image and one text through them: a model whose graphs
    want other inputs, give no usable output or the wrong size is refused now, in one
    line, not at the first search after its images were embedded."""
    from PIL import Image

    from anagnorisisd.ml.clip import ClipModel
    from anagnorisisd.ml.session import SessionSettings

    files.validate()
    model = ClipModel(files, SessionSettings(("CPUExecutionProvider",)))
    probe = Image.new("RGB", (model.preprocess.size + 7, model.preprocess.size), (120, 80, 40))
    for what in ("image", "text"):
        try:
            out = (model.embed_images(model.preprocess(probe)[None]) if what == "image"
                   else model.embed_texts(["a photo of a dog"]))
        except ModelError:
            raise
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"model '{files.name}': its {what} graph fails on a test "
                             f"{what}: {first}") from None
        if out.shape != (1, files.embed_dim) or not np.isfinite(out).all():
            raise ModelError(f"model '{files.name}': its {what} graph gives shape "
                             f"{tuple(out.shape)}, expected (1, {files.embed_dim}) from "
                             "config.json's embed_dim")


def repo_id(config: Config, name: str) -> str:
    return name if "/" in name else f"{config.model.hub_org}/{name}"


def pull(config: Config, name: str, tqdm_class: Any = None) -> ModelFiles:
    """Download the layout's files of NAME from the hub into the models folder (resumable)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    local_name = name.split("/")[-1]
    target = config.models_dir / local_name
    target.mkdir(parents=True, exist_ok=True)
    try:
        snapshot_download(repo_id=repo_id(config, name), allow_patterns=DOWNLOAD_PATTERNS,
                          local_dir=target, tqdm_class=tqdm_class, max_workers=4)
    except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot download {repo_id(config, name)}: {first}") from None
    files = ModelFiles(local_name, target)
    files.validate()
    return files


@dataclass
class PullProgress:
    """What a background pull has done so far, for status."""

    name: str
    state: str = "running"  # running, done, failed
    bytes_done: int = 0
    bytes_total: int = 0
    error: str | None = None
    started_at: float = field(default_factory=time.time)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "state": self.state, "bytes_done": self.bytes_done,
                "bytes_total": self.bytes_total, "error": self.error}


def progress_tqdm(progress: PullProgress) -> type:
    """A tqdm class that reports byte counts into `progress` instead of a terminal."""
    from tqdm.auto import tqdm

    class Reporting(tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self.counts_bytes = kwargs.get("unit") == "B"
            total = kwargs.get("total")
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            if self.counts_bytes and total:
                with progress._lock:
                    progress.bytes_total += int(total)

        def update(self, n: float | None = 1) -> bool | None:
            if self.counts_bytes and n:
                with progress._lock:
                    progress.bytes_done += int(n)
            return None

    return Reporting


def pull_in_background(config: Config, name: str,
                       on_done: Callable[[ModelFiles], None]) -> PullProgress:
    progress = PullProgress(name)

    def run() -> None:
        try:
            files = pull(config, name, tqdm_class=progress_tqdm(progress))
        except Exception as exc:  # a failed download must never take the daemon down
            message = str(exc) if isinstance(exc, ModelError) else f"{type(exc).__name__}: {exc}"
            progress.state, progress.error = "failed", message
            log.error("%s; %s", exc, install_hint(name))
            return
        progress.state = "done"
        on_done(files)

    threading.Thread(target=run, name="model-pull", daemon=True).start()
    return progress
