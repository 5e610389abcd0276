"""Which face model the faces stage uses: the one here, or immich workers.

Loading never blocks anything: the stage asks `current()` for the model, and while none
can be had it says why in one line ("waiting for the face model: …") and the pipeline
passes its files by, to come back once the model appears (`model import`, `model pull`),
which is looked for again every `retry_s`. CLIP, search and the panel never wait on it.
"""

from __future__ import annotations

import threading
import time

from anagnorisisd.config import Config
from anagnorisisd.ml.faces import FaceModel, LocalFaces, face_files
from anagnorisisd.ml.layout import ModelError
from anagnorisisd.ml.remote_faces import RemoteFaces
from anagnorisisd.ml.session import SessionSettings


def face_install_hint(name: str) -> str:
    return (f"install it with 'anagnorisisd model pull {name}' or 'anagnorisisd model "
            f"import FOLDER' (immich's facial-recognition/{name} layout)")


class FaceModels:
    def __init__(self, config: Config, name: str, backend: str, retry_s: float = 30.0) -> None:
        self.config = config
        self.name = name
        self.backend = backend or config.model.backend
        self.retry_s = retry_s
        self.problem: str | None = "not loaded yet"
        self._model: LocalFaces | RemoteFaces | None = None
        self._next_try = 0.0
        self._lock = threading.Lock()

    def current(self) -> FaceModel | None:
        """The model, loading it if it is time to look again; None with `problem` set."""
        with self._lock:
            if self._model is None and time.monotonic() >= self._next_try:
                self._next_try = time.monotonic() + self.retry_s
                try:
                    self._model = self._load()
                    self.problem = None
                except ModelError as exc:
                    self.problem = f"waiting for the face model: {exc}"
            return self._model

    def _local(self) -> LocalFaces:
        files = face_files(self.config.models_dir, self.name)
        if not files.root.is_dir():
            raise ModelError(f"'{self.name}' is not installed; {face_install_hint(self.name)}")
        m = self.config.model
        model = LocalFaces(files, SessionSettings(tuple(m.providers), m.intra_op_threads,
                                                  m.inter_op_threads))
        model.load()
        return model

    def _load(self) -> LocalFaces | RemoteFaces:
        if self.backend != "remote":
            return self._local()
        try:
            reference: LocalFaces | None = self._local()
        except ModelError:
            reference = None  # checked against the first worker instead
        m = self.config.model
        return RemoteFaces(self.name, m.remote_urls, reference, in_flight=m.remote_in_flight,
                           timeout_s=m.remote_timeout_s)

    def status(self) -> dict[str, object]:
        model = self._model
        problem = self.problem
        if model is not None and not model.available():
            problem = (f"no face worker serves {self.name}: every one of [model] remote_urls "
                       "refused it (see each worker's reason)")
        out: dict[str, object] = {"name": self.name, "backend": self.backend,
                                  "problem": problem}
        if isinstance(model, RemoteFaces):
            out.update(model.status())
        return out

    def close(self) -> None:
        if isinstance(self._model, RemoteFaces):
            self._model.stop()
