"""Which text model the text stage uses: the one here, or immich workers.

Like the face models (ml.face_service): loading never blocks anything, a model that cannot
be had says why in one line, and it is looked for again every `retry_s`, so a model
imported while the daemon runs is picked up without a restart.
"""

from __future__ import annotations

import threading
import time

from anagnorisisd.config import Config
from anagnorisisd.ml.layout import ModelError
from anagnorisisd.ml.ocr import WHEEL_MODEL, LocalText, TextModel, ocr_files
from anagnorisisd.ml.remote_text import RemoteText


def text_install_hint(name: str) -> str:
    return (f"install it with 'anagnorisisd model pull {name}' or 'anagnorisisd model "
            f"import FOLDER' (immich's ocr/{name} layout), or use the default "
            f"{WHEEL_MODEL}, which needs no download")


IMMICH_DEFAULT = "PP-OCRv5_mobile"
"""The text model immich's server reads with by default, and asks its workers for."""


def remote_name(name: str) -> str:
    """The name to ask immich workers for: the configured model by immich's name, or, for
    the model inside the rapidocr wheel (this project's own, which immich does not serve:
    it answers HTTP 500), immich's default."""
    return IMMICH_DEFAULT if name == WHEEL_MODEL else name


class TextModels:
    def __init__(self, config: Config, name: str, backend: str, retry_s: float = 30.0) -> None:
        self.config = config
        self.name = name
        self.backend = backend or "local"
        """Text is read here unless [stages.text] backend says "remote": `[model] backend`
        alone sends CLIP (and faces) to the workers, not OCR, whose default model here is
        one immich does not serve."""
        self.retry_s = retry_s
        self.problem: str | None = "not loaded yet"
        self._model: LocalText | RemoteText | None = None
        self._next_try = 0.0
        self._lock = threading.Lock()

    def current(self) -> TextModel | None:
        """The model, loading it if it is time to look again; None with `problem` set."""
        with self._lock:
            if self._model is None and time.monotonic() >= self._next_try:
                self._next_try = time.monotonic() + self.retry_s
                try:
                    self._model = self._load()
                    self.problem = None
                except ModelError as exc:
                    self.problem = f"waiting for the text model: {exc}"
            return self._model

    def _local(self, name: str) -> LocalText:
        files = ocr_files(self.config.models_dir, name)
        if name != WHEEL_MODEL and not files.detection.parent.parent.is_dir():
            raise ModelError(f"'{name}' is not installed; {text_install_hint(name)}")
        return LocalText(files, threads=self.config.model.intra_op_threads)

    def _load(self) -> LocalText | RemoteText:
        if self.backend != "remote":
            return self._local(self.name)
        asked = remote_name(self.name)
        try:
            reference: LocalText | None = self._local(asked)
        except ModelError:
            reference = None  # checked against the first worker instead
        m = self.config.model
        return RemoteText(asked, m.remote_urls, reference, in_flight=m.remote_in_flight,
                          timeout_s=m.remote_timeout_s)

    def status(self) -> dict[str, object]:
        model = self._model
        problem = self.problem
        asked = remote_name(self.name)
        if model is not None and not model.available():
            problem = (f"no text worker serves {asked}: every one of [model] remote_urls "
                       "refused it (see each worker's reason)")
        out: dict[str, object] = {"name": self.name, "backend": self.backend,
                                  "problem": problem}
        if self.backend == "remote":
            out["asked_of_workers"] = asked
        if isinstance(model, RemoteText):
            out.update(model.status())
        return out

    def close(self) -> None:
        if isinstance(self._model, RemoteText):
            self._model.stop()
