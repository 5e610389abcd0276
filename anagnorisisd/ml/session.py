"""ONNX Runtime sessions: chosen providers with a logged fallback, lazy load, idle unload.

Shaped after immich's model classes: nothing is loaded until first use, and a
session nobody has used for a while gives its memory back. A graph whose batch
dimension is fixed is fed one fixed-size slice at a time; a dynamic one gets
the whole batch.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort
from numpy.typing import NDArray

from anagnorisisd.ml.layout import ModelError
from anagnorisisd.ml.providers import usable

log = logging.getLogger(__name__)
ort.set_default_logger_severity(3)  # ORT's own provider-probing noise; we log what matters


@dataclass(frozen=True)
class SessionSettings:
    providers: tuple[str, ...] = ("CUDAExecutionProvider", "CPUExecutionProvider")
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    idle_unload_s: float = 0.0  # 0: keep loaded
    spin: bool = False
    one_off: bool = False
    """A session for one run (a command line's query): ONNX Runtime's repacking of the
    weights for fast matrix products costs more at load (0.17 s for ViT-B-32's text
    tower) than it saves on one run (0.02 s)."""


@dataclass
class OnnxEncoder:
    """One graph with one input and an `embedding` output."""

    path: Path
    input_names: tuple[str, ...]
    """The main input, by the names the known exports give it (first found is used)."""
    settings: SessionSettings
    _session: ort.InferenceSession | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    last_used: float = 0.0
    providers_in_use: list[str] = field(default_factory=list)
    input_name: str = ""
    output_name: str = "embedding"
    extra_inputs: list[str] = field(default_factory=list)

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def session(self) -> ort.InferenceSession:
        with self._lock:
            if self._session is None:
                self._session = self._load()
            self.last_used = time.monotonic()
            return self._session

    def _load(self) -> ort.InferenceSession:
        wanted = usable(self.settings.providers)
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.settings.intra_op_threads
        options.inter_op_num_threads = self.settings.inter_op_threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if not self.settings.spin:
            # Idle ORT threads spin by default, burning the cores the JPEG decoders need.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.add_session_config_entry("session.inter_op.allow_spinning", "0")
        if self.settings.one_off:
            options.add_session_config_entry("session.disable_prepacking", "1")
        try:
            session = ort.InferenceSession(str(self.path), sess_options=options, providers=wanted)
        except Exception as exc:
            raise ModelError(f"cannot load {self.path}: {str(exc).splitlines()[0]}") from None
        names = [i.name for i in session.get_inputs()]
        found = [n for n in self.input_names if n in names]
        if not found:
            raise ModelError(f"{self.path} has inputs {names}, expected one of "
                             f"{list(self.input_names)}")
        self.input_name = found[0]
        outputs = [o.name for o in session.get_outputs()]
        # immich takes the first output; older exports call it image_embedding/text_embedding.
        self.output_name = "embedding" if "embedding" in outputs else outputs[0]
        self.extra_inputs = [n for n in names if n != self.input_name]
        self.providers_in_use = session.get_providers()
        return session

    def fixed_batch(self) -> int | None:
        dim = self.session().get_inputs()[0].shape[0]
        return dim if isinstance(dim, int) and dim > 0 else None

    def run(self, batch: NDArray[np.generic],
            extra: dict[str, NDArray[np.generic]] | None = None) -> NDArray[np.float32]:
        """The first (or `embedding`) output for a batch; `extra` inputs (an attention mask)
        are fed to the graphs that take them."""
        session = self.session()
        extra = {k: v for k, v in (extra or {}).items() if k in self.extra_inputs}
        missing = [n for n in self.extra_inputs if n not in extra]
        if missing:
            raise ModelError(f"{self.path} also needs input(s) {missing}, which nothing gives it")
        fixed = self.fixed_batch()

        def feed(lo: int, hi: int, pad: int = 0) -> dict[str, NDArray[np.generic]]:
            arrays = {self.input_name: batch, **extra}
            out = {}
            for name, array in arrays.items():
                part = array[lo:hi]
                if pad:  # a fixed-batch graph: repeat the last row, drop its outputs later
                    part = np.concatenate([part, np.repeat(part[-1:], pad, axis=0)])
                out[name] = part
            return out

        if fixed is None or fixed == len(batch):
            out = session.run([self.output_name], feed(0, len(batch)))[0]
        else:
            parts = []
            for start in range(0, len(batch), fixed):
                real = min(fixed, len(batch) - start)
                result = session.run([self.output_name], feed(start, start + real, fixed - real))
                parts.append(result[0][:real])
            out = np.concatenate(parts)
        self.last_used = time.monotonic()
        return np.asarray(out, dtype=np.float32)

    def unload_if_idle(self, now: float | None = None) -> bool:
        if not self.settings.idle_unload_s:
            return False
        with self._lock:
            idle = (now or time.monotonic()) - self.last_used
            if self._session is not None and idle >= self.settings.idle_unload_s:
                self._session = None
                log.info("unloaded idle session %s", self.path)
                return True
        return False

    def unload(self) -> None:
        with self._lock:
            self._session = None
