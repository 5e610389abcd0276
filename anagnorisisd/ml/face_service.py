"""Which face model the faces stage uses: the one here, or immich workers, in one model
slot (ml/slot.py), which says why while there is none. CLIP, search and the panel never
wait on it.

`model = "auto"` (the default): immich's buffalo_l where it is installed, else dlib's
models, which install with anagnorisisd, so a library gets people with no download; once
buffalo_l is pulled it takes over, and the faces stage redoes each photo with it (the
person's corrections follow their faces, features/people/service.py). `"dlib"` keeps
dlib's. Workers serve immich's models only: "auto" asks them for buffalo_l."""

from __future__ import annotations

from anagnorisisd.config import Config
from anagnorisisd.ml.dlib_faces import NAME as DLIB
from anagnorisisd.ml.dlib_faces import load_dlib_faces
from anagnorisisd.ml.faces import FaceModel, LocalFaces, face_files
from anagnorisisd.ml.layout import ModelError
from anagnorisisd.ml.remote_faces import RemoteFaces
from anagnorisisd.ml.session import SessionSettings
from anagnorisisd.ml.slot import ModelSlot


def face_install_hint(name: str) -> str:
    return (f"install it with 'anagnorisisd model pull {name}' or 'anagnorisisd model "
            f"import FOLDER' (immich's facial-recognition/{name} layout)")


AUTO = "auto"
PREFERRED = "buffalo_l"
"""What "auto" uses where it is installed: immich's default."""


def face_slot(config: Config, name: str, backend: str, retry_s: float = 30.0
              ) -> ModelSlot[FaceModel]:
    """The faces stage's model: immich's face models (or dlib's) here, or immich's on the
    [model] remote_urls workers (`backend` "remote"; empty: as [model] backend)."""
    chosen = backend or config.model.backend
    wanted = PREFERRED if name == AUTO else name

    def local(which: str) -> FaceModel:
        return load_dlib_faces() if which == DLIB else immich(which)

    def immich(which: str) -> LocalFaces:
        files = face_files(config.models_dir, which)
        if not files.root.is_dir():
            raise ModelError(f"'{which}' is not installed; {face_install_hint(which)}")
        m = config.model
        model = LocalFaces(files, SessionSettings(tuple(m.providers), m.intra_op_threads,
                                                  m.inter_op_threads))
        model.load()
        return model

    def installed() -> bool:
        return face_files(config.models_dir, PREFERRED).root.is_dir()

    def load() -> FaceModel:
        if chosen != "remote":
            if name == AUTO and not installed():
                return local(DLIB)
            return local(wanted)
        if wanted == DLIB:
            raise ModelError("dlib's face model runs here only: immich's workers serve "
                             "immich's models (set [stages.faces] model to one of them, or "
                             "backend = \"local\")")
        try:
            reference: LocalFaces | None = immich(wanted)
        except ModelError:
            reference = None  # checked against the first worker instead
        m = config.model
        return RemoteFaces(wanted, m.remote_urls, reference, in_flight=m.remote_in_flight,
                           timeout_s=m.remote_timeout_s)

    def stand_in(model: FaceModel) -> str | None:
        if name != AUTO or not model.identity.startswith(f"{DLIB}:"):
            return None
        return (f"dlib's face model is in use, which installs with anagnorisisd; immich's "
                f"{PREFERRED} finds more faces and tells people apart better: "
                f"'anagnorisisd model pull {PREFERRED}' installs it, and it takes over")

    return ModelSlot("face", name, chosen, load, retry_s, stand_in=stand_in,
                     replaced=installed,
                     pullable=wanted if chosen != "remote" and wanted != DLIB else None)
