"""Which face model the faces stage uses: the one here, or immich workers, in one model
slot (ml/slot.py), which says why while there is none. CLIP, search and the panel never
wait on it."""

from __future__ import annotations

from anagnorisisd.config import Config
from anagnorisisd.ml.faces import FaceModel, LocalFaces, face_files
from anagnorisisd.ml.layout import ModelError
from anagnorisisd.ml.remote_faces import RemoteFaces
from anagnorisisd.ml.session import SessionSettings
from anagnorisisd.ml.slot import ModelSlot


def face_install_hint(name: str) -> str:
    return (f"install it with 'anagnorisisd model pull {name}' or 'anagnorisisd model "
            f"import FOLDER' (immich's facial-recognition/{name} layout)")


def face_slot(config: Config, name: str, backend: str, retry_s: float = 30.0
              ) -> ModelSlot[FaceModel]:
    """The faces stage's model: immich's face models here, or on the [model] remote_urls
    workers (`backend` "remote"; empty: as [model] backend)."""
    chosen = backend or config.model.backend

    def local() -> LocalFaces:
        files = face_files(config.models_dir, name)
        if not files.root.is_dir():
            raise ModelError(f"'{name}' is not installed; {face_install_hint(name)}")
        m = config.model
        model = LocalFaces(files, SessionSettings(tuple(m.providers), m.intra_op_threads,
                                                  m.inter_op_threads))
        model.load()
        return model

    def load() -> FaceModel:
        if chosen != "remote":
            return local()
        try:
            reference: LocalFaces | None = local()
        except ModelError:
            reference = None  # checked against the first worker instead
        m = config.model
        return RemoteFaces(name, m.remote_urls, reference, in_flight=m.remote_in_flight,
                           timeout_s=m.remote_timeout_s)

    return ModelSlot("face", name, chosen, load, retry_s)
