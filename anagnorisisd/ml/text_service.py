"""Which text model the text stage uses: the one here, or immich workers, in one model
slot (ml/slot.py): loading never blocks anything, a model that cannot be had says why in
one line, and it is looked for again every `retry_s`, so a model imported while the
daemon runs is picked up without a restart."""

from __future__ import annotations

from anagnorisisd.config import Config
from anagnorisisd.ml.layout import ModelError
from anagnorisisd.ml.ocr import WHEEL_MODEL, LocalText, TextModel, ocr_files
from anagnorisisd.ml.remote_text import RemoteText
from anagnorisisd.ml.slot import ModelSlot


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


def text_slot(config: Config, name: str, backend: str, retry_s: float = 30.0
              ) -> ModelSlot[TextModel]:
    """The text stage's model. Text is read here unless `backend` says "remote":
    `[model] backend` alone sends CLIP (and faces) to the workers, not OCR, whose default
    model here is one immich does not serve; with "remote", the workers are asked for the
    model by immich's name (remote_name)."""
    chosen = backend or "local"
    asked = remote_name(name)

    def local(wanted: str) -> LocalText:
        files = ocr_files(config.models_dir, wanted)
        if wanted != WHEEL_MODEL and not files.detection.parent.parent.is_dir():
            raise ModelError(f"'{wanted}' is not installed; {text_install_hint(wanted)}")
        return LocalText(files, threads=config.model.intra_op_threads)

    def load() -> TextModel:
        if chosen != "remote":
            return local(name)
        try:
            reference: LocalText | None = local(asked)
        except ModelError:
            reference = None  # checked against the first worker instead
        m = config.model
        return RemoteText(asked, m.remote_urls, reference, in_flight=m.remote_in_flight,
                          timeout_s=m.remote_timeout_s)

    return ModelSlot("text", name, chosen, load, retry_s,
                     asked=asked if chosen == "remote" else None,
                     pullable=name if chosen != "remote" and name != WHEEL_MODEL else None)
