"""The daemon's one model: loaded in the background, pulled if missing, shared by all users.

Start-up never waits for it. Until it is ready, everything that does not
need embeddings works, and status says in one line what is missing and the
command that fixes it.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from pathlib import Path
from typing import Any

from anagnorisisd.config import Config, ConfigError
from anagnorisisd.events import Hub, ModelReady, WorkerDistrusted
from anagnorisisd.ml.clip import ClipModel, quantized_visual
from anagnorisisd.ml.layout import ModelError, install_hint
from anagnorisisd.ml.manager import PullProgress, model_files, pull_in_background
from anagnorisisd.ml.remote import RemoteClip
from anagnorisisd.ml.session import SessionSettings

log = logging.getLogger(__name__)

EmbeddingModel = ClipModel | RemoteClip
"""The two implementations of ml.protocol.ImageModel; stages use the protocol."""
"""What embeds: the model here, or immich machine-learning workers ([model] backend)."""


def needs_model(feature: str) -> str:
    """The one sentence every feature that needs embeddings says when there is no model."""
    return (f"{feature} needs a CLIP model to look at your images; everything else works "
            "meanwhile (how to install one is said once, in the status: the panel's "
            "progress or 'anagnorisisd status').")


class ModelService:
    def __init__(self, config: Config, *, auto_pull: bool | None = None,
                 eager_session: bool = True, hub: Hub | None = None) -> None:
        self.config = config
        self.name = config.model.name
        if config.model.quantized and importlib.util.find_spec("onnx") is None:
            # onnxruntime's quantiser imports onnx, which a plain install does not bring
            raise ConfigError(f"{config.source}: [model] quantized = true needs the onnx "
                              "package ('pip install onnx' in the daemon's environment)")
        self.auto_pull = config.model.auto_pull if auto_pull is None else auto_pull
        self.eager_session = eager_session
        self._model: EmbeddingModel | None = None
        self.problem: str | None = "not loaded yet"
        self.pull: PullProgress | None = None
        self.hub = hub or Hub()
        """Told ModelReady when a model (re)loads, WorkerDistrusted when a remote worker is
        caught answering wrongly."""
        self._failed_stamp: tuple[int, ...] | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ loading
    def settings(self) -> tuple[SessionSettings, SessionSettings]:
        m = self.config.model
        visual = SessionSettings(tuple(m.providers), m.intra_op_threads, m.inter_op_threads)
        text = SessionSettings(tuple(m.providers), m.intra_op_threads, m.inter_op_threads,
                               float(m.text_idle_unload_s), one_off=not self.eager_session)
        return visual, text

    def load(self) -> bool:
        """Try to load the configured model now; on a missing one, maybe start a pull."""
        if self.config.model.backend == "remote":
            return self._load_remote()
        files = model_files(self.config, self.name)
        visual, text = self.settings()
        try:
            graph = None
            if self.config.model.quantized and files.visual.exists():
                graph = quantized_visual(files)
            model = ClipModel(files, visual, text, self.config.model.text_cache_size, graph,
                              exact_decode=self.config.model.exact_decode,
                              cache_dir=self.config.data_dir / "cache")
            _ = model.identity
            if self.eager_session:
                model.visual.session()  # a corrupt graph shows up now, not mid-pipeline
        except ModelError as exc:
            missing = not files.root.exists()
            self._failed_stamp = self._stamp(files.root)
            self._fail(exc, missing)
            return False
        with self._lock:
            self._model, self.problem = model, None
        log.info("model %s ready (%s)", model.identity,
                 ", ".join(model.visual.providers_in_use) or "lazy")
        self.hub.publish(ModelReady())
        if self.eager_session:  # the daemon: a command line's query starts faster next time
            threading.Thread(target=self._prepare_query_graph, args=(model,),
                             name="text-front", daemon=True).start()
        return True

    @staticmethod
    def _prepare_query_graph(model: ClipModel) -> None:
        try:
            model.prepare_query_graph()
        except Exception:  # an odd graph: the whole one serves, as before
            log.exception("the query's text graph could not be prepared")

    def _load_remote(self) -> bool:
        """Workers embed; the model's files here, if installed, only check them (and embed
        with `fallback = "local"`). Nothing is pulled: the workers have their own copies."""
        m = self.config.model
        files = model_files(self.config, self.name)
        reference = None
        if files.root.exists():
            visual, text = self.settings()
            try:
                reference = ClipModel(files, visual, text, m.text_cache_size,
                                      exact_decode=m.exact_decode)
            except ModelError as exc:
                log.warning("model %s here cannot check the workers: %s", self.name, exc)
        model = RemoteClip(self.name, list(m.remote_urls), reference,
                           in_flight=m.remote_in_flight, timeout_s=m.remote_timeout_s,
                           fallback_local=m.fallback == "local", exact_decode=m.exact_decode)
        model.distrust_listeners.append(
            lambda url, since: self.hub.publish(WorkerDistrusted(url, since)))
        with self._lock:
            previous, self._model, self.problem = self._model, model, None
        if previous is not None:
            previous.close()
        log.info("embedding on %d remote worker(s) as %s, checked against %s",
                 len(model.workers), model.identity,
                 "the local model" if reference else "the first worker")
        self.hub.publish(ModelReady())
        return True

    def reload(self) -> None:
        self.load()

    def recheck(self) -> None:
        """The scheduler's job: load the model if it has appeared or been fixed meanwhile."""
        if self._model is not None or (self.pull is not None and self.pull.state == "running"):
            return
        if self.config.model.backend == "remote":
            return
        files = model_files(self.config, self.name)
        stamp = self._stamp(files.root)
        if stamp is not None and stamp != self._failed_stamp:
            self.load()

    @staticmethod
    def _stamp(root: Path) -> tuple[int, ...] | None:
        """Changes when any file of the model folder does: a broken model is retried only
        after someone touched it, not every half minute."""
        if not root.is_dir():
            return None
        return tuple(sorted(p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()))

    def load_in_background(self) -> None:
        self._loading = threading.Thread(target=self.load, name="model-load", daemon=True)
        self._loading.start()

    def _fail(self, exc: ModelError, missing: bool) -> None:
        fix = install_hint(self.name)
        if missing and self.auto_pull and self.pull is None:
            self.problem = f"model '{self.name}' is not installed; downloading it"
            log.warning("%s", self.problem)
            self.pull = pull_in_background(self.config, self.name, lambda _files: self.reload())
            return
        if missing and self.pull is not None and self.pull.state == "failed":
            self.problem = f"{self.pull.error}; {fix}"
        elif missing:
            self.problem = f"model '{self.name}' is not installed; {fix}"
        else:
            self.problem = f"{exc}; {fix}"
        log.error("semantic features are off: %s", self.problem)

    @property
    def ready(self) -> bool:
        return self._model is not None

    def model(self) -> EmbeddingModel:
        model = self._model
        if model is None:
            raise ModelError(self.problem or f"model '{self.name}' is not loaded")
        return model

    def maybe_model(self) -> EmbeddingModel | None:
        return self._model

    def warning(self) -> str | None:
        """What the loaded model's own config says it is unfit for (the shipped demo model
        says it cannot tell photos apart), to be said wherever its results are used."""
        model = self._model
        return model.warning() if model is not None else None

    def close(self, timeout: float = 5.0) -> None:
        """At shutdown: remote requests and items waiting for a worker stop at once, and a
        load in the background is waited for (a session being built cannot be cut)."""
        if self._model is not None:
            self._model.close()
        loading = getattr(self, "_loading", None)
        if loading is not None:
            loading.join(timeout)

    def unload_idle(self) -> None:
        if self._model is not None:
            self._model.unload_idle()

    def status(self) -> dict[str, Any]:
        model = self._model
        if self.pull is not None and self.pull.state == "failed" and model is None:
            self.problem = f"{self.pull.error}; {install_hint(self.name)}"
        state = "ready" if model else ("pulling" if self.pull and self.pull.state == "running"
                                       else "unavailable")
        out: dict[str, Any] = {
            "backend": self.config.model.backend, "name": self.name, "state": state,
            "warning": None, "identity": model.identity if model else None,
            "embed_dim": model.embed_dim if model else None, "providers": [],
            "text_session_loaded": False, "problem": self.problem if model is None else None,
            "pull": self.pull.as_dict() if self.pull else None,
        }
        if model is not None:
            out.update(model.status())  # what its backend says of itself
        return out
