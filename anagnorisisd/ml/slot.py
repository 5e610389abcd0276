"""One model of one kind (faces, text) in one slot, whoever runs it: the model here, or
immich workers. As immich's service has one model base class, every model here answers
the same few questions (`SlotModel`), so nothing above this module asks which backend
it holds.

Loading never blocks anything: a stage asks `current()` for the model, and while none can
be had the slot says why in one line ("waiting for the face model: …") and the pipeline
passes the stage's files by, to come back once the model appears (`model import`,
`model pull`), which is looked for again every `retry_s`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from anagnorisisd.ml.layout import ModelError


class SlotModel(Protocol):
    """What every model answers, local or remote."""

    @property
    def identity(self) -> str:
        """Names the model and its weights: results of another identity are made again."""
        ...

    def available(self) -> bool:
        """Whether it can work now (a remote model: some worker serves it)."""
        ...

    def status(self) -> dict[str, Any]:
        """Its part of the stage's status (a remote model: every worker's state)."""
        ...

    def close(self) -> None:
        """At shutdown: stop what it runs (a remote model: requests in flight give up)."""
        ...


class LocalModel:
    """The answers every model run here gives its slot: it can always work (its files are
    here), has nothing of its own to report, and nothing runs outside a call to stop.
    `_identity` is set by the model from its files."""

    _identity: str

    @property
    def identity(self) -> str:
        return self._identity

    def available(self) -> bool:
        return True

    def status(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        """Nothing to stop: sessions end with the process."""


M = TypeVar("M", bound=SlotModel)


class ModelSlot(Generic[M]):
    def __init__(self, kind: str, name: str, backend: str, load: Callable[[], M],
                 retry_s: float = 30.0, asked: str | None = None,
                 stand_in: Callable[[M], str | None] | None = None,
                 replaced: Callable[[], bool] | None = None, pullable: str | None = None
                 ) -> None:
        self.kind = kind
        """What the model is for, as a sentence says it ("face", "text")."""
        self.name = name
        self.backend = backend
        self.asked = asked
        """The name the workers are asked for, where it is not `name`."""
        self.retry_s = retry_s
        self.problem: str | None = "not loaded yet"
        self.note: str | None = None
        """What the person may want to know of the model in use (a stand-in for a better
        one not installed yet, and how to get it); not a problem: work goes on."""
        self._stand_in = stand_in
        """For the model loaded: the note to show when it stands in for a better one."""
        self._replaced = replaced
        """Whether the model it stands in for can be had now, asked every `retry_s` while
        a stand-in (a model with a note) is loaded: the slot then loads again, and the
        stage redoes what the stand-in's identity made."""
        self.pullable = pullable
        """The name `model pull` installs it by, where it can be downloaded at all: the
        panel offers that download while the slot waits for it."""
        self._load = load
        self._model: M | None = None
        self._next_try = 0.0
        self._lock = threading.Lock()

    def current(self) -> M | None:
        """The model, loading it if it is time to look again; None with `problem` set."""
        with self._lock:
            now = time.monotonic()
            if (self._model is not None and self.note is not None and
                    self._replaced is not None and now >= self._next_try):
                self._next_try = now + self.retry_s
                if self._replaced():  # the model it stood in for is here now
                    self._model.close()
                    self._model, self.note = None, None
            if self._model is None and now >= self._next_try:
                self._next_try = now + self.retry_s
                try:
                    self._model = self._load()
                    self.problem = None
                    self.note = self._stand_in(self._model) if self._stand_in else None
                except ModelError as exc:
                    self.problem = f"waiting for the {self.kind} model: {exc}"
            return self._model

    def status(self) -> dict[str, Any]:
        model = self._model
        problem = self.problem
        if model is not None and not model.available():
            problem = (f"no {self.kind} worker serves {self.asked or self.name}: every one "
                       "of [model] remote_urls refused it (see each worker's reason)")
        out: dict[str, Any] = {"name": self.name, "backend": self.backend, "problem": problem}
        if self.note is not None:
            out["note"] = self.note
        if problem and model is None and self.pullable:
            out["pull"] = self.pullable
        if self.asked is not None:
            out["asked_of_workers"] = self.asked
        if model is not None:
            out.update(model.status())
        return out

    def close(self) -> None:
        model = self._model
        if model is not None:
            model.close()
