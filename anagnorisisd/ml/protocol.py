"""What an image model does, whoever runs it: the one protocol the embedding stage (and the
face and text stages after it) talks to, and what can go wrong with a model on other
machines. The local ONNX model and the remote immich workers both implement it; a stage
never asks which one it has, and catches the errors below without importing a backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from anagnorisisd.stage import PixelNeed


@dataclass(frozen=True)
class Embedded:
    """One image's vector, and where it came from (stored beside it: a remote worker's URL
    and the time, so that what a worker sent can be found and redone if it lies)."""

    vector: NDArray[np.float32]
    source: dict[str, Any] = field(default_factory=dict)


class ImageModel(Protocol):
    @property
    def identity(self) -> str:
        """name@digest (local) or name@remote: which vectors may be compared with which."""
        ...

    def pixel_need(self) -> PixelNeed:
        """The pixels the model's input is made from (the pipeline decodes them once)."""
        ...

    def prepare(self, img: Image.Image) -> Any:
        """The model's input for one upright RGB image (cheap enough for a decode thread)."""
        ...

    def embed_prepared(self, inputs: list[Any]) -> Sequence[Embedded | Exception]:
        """One result per input: its vector, or the exception that fails that one image."""
        ...

    def trusted(self, made: Embedded) -> bool:
        """Whether a vector made earlier may still be stored (False once its maker was
        caught answering wrongly)."""
        ...

    def embed_text(self, text: str, language: str | None = None) -> NDArray[np.float32]:
        ...

    def embed_image(self, img: Image.Image) -> NDArray[np.float32]:
        ...


class RemoteError(Exception):
    """One line: what a worker did wrong. The worker is skipped for a while and checked
    again on the probe image before its next item (a fault, not a verdict)."""


class Refused(RemoteError):
    """The worker is not what it says (it disagrees with the reference on the probe image,
    does not serve the model, or changes its vector length): no work for it until it is
    checked again, minutes later."""


class ItemFault(RemoteError):
    """A worker that passes its probe check failed on this one image: the image's failure,
    recorded with it, never the worker's."""


class NoWorker(RemoteError):
    """No usable worker answered in time for a request someone waits on (a query)."""


class Stopped(Exception):
    """The daemon is stopping while an item waited for a worker."""
