"""Embeddings from immich machine-learning workers over HTTP, spread over every worker.

The protocol is immich's own (its machine-learning service, immich_ml/main.py): `GET /ping`
answers "pong"; `POST /predict` takes a multipart form with `entries`, a JSON object naming
the task, the type and the model (`{"clip": {"visual": {"modelName": "…"}}}`), and either an
`image` file or a `text` field; the answer is `{"clip": <the vector, as a JSON array or a
string holding one>, …}`. Vectors are L2-normalised here, as the local model's are.

What crosses the network is the model's input, not the photo: the decoded, upright image
at the size the model needs, as a JPEG (quality 95, 4:4:4), a few tens of kilobytes.

Workers are trusted with nothing: each is checked on a fixed probe image (before its first
item, after any fault, every RECHECK_ITEMS items) against the local model when it is
installed (else against the first worker that answered), and spot-checked against the local
model on one item in SPOT_CHECK_EVERY; one that disagrees, or does not serve the model, is
refused with its reason and what it sent since its last check is redone. A worker that
fails or times out is skipped for a while (2 s, doubling to 15 s) and its item goes to
another; nothing is marked failed because a worker was down.
With every worker down, an item waits (status says so) or, with `fallback = "local"`, is
embedded by the local model, whose vectors the probe showed to agree.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from anagnorisisd.imaging.convert import to_rgb
from anagnorisisd.imaging.decoding import decoded
from anagnorisisd.ml.clip import ClipModel
from anagnorisisd.ml.preprocess import MAX_STRETCH, Preprocessor
from anagnorisisd.ml.protocol import Embedded
from anagnorisisd.ml.remote_protocol import (
    FromWorker,
    HttpStatus,
    ItemFault,
    Refused,
    RemoteError,
    Stopped,
    as_sent,
    input_size,
    jpeg,
    load_json,
    multipart,
    parse_vector,
    post,
    probe_image,
)
from anagnorisisd.ml.remote_worker import Worker
from anagnorisisd.ml.worker_pool import REFUSED_RECHECK_S, WorkerPool
from anagnorisisd.stage import PixelNeed

__all__ = ["FromWorker", "ItemFault", "Refused", "RemoteClip", "RemoteError", "Stopped",
           "parse_vector"]

log = logging.getLogger(__name__)

AGREEMENT = 0.99
"""Least cosine between a worker's and the reference's vector for the probe image (JPEG at
quality 95 costs about 0.001)."""
SPOT_CHECK_EVERY = 10
"""With the model installed here too, one item in this many is also embedded here and must
agree: a worker that passes the probe and then answers with other vectors is caught within
a few items, not a few hundred."""


class ShortSide(Preprocessor):
    """Without the model's files here, the exact crop is unknown (open_clip crops most
    models and squashes SigLIP's): send the whole upright image with its short side at the
    model's size, and let the worker's own preprocessing crop or squash it."""

    def resize(self, img: Image.Image) -> Image.Image:
        """Never larger than it is: a 100-px photo goes as it is, and the worker enlarges it
        the way it enlarges any photo (enlarging here first, then JPEG, gave a vector at
        cosine 0.979 to immich's own for the same file)."""
        s = self.size
        w, h = img.size
        if min(w, h) <= s:
            return img
        scale = s / min(w, h)
        new = (max(1, min(round(w * scale), MAX_STRETCH * s)),
               max(1, min(round(h * scale), MAX_STRETCH * s)))
        return img if new == (w, h) else img.resize(new, self.interpolation)


class RemoteClip(WorkerPool):
    """The embedding model, served by immich machine-learning workers."""

    def __init__(self, name: str, urls: list[str], reference: ClipModel | None, *,
                 in_flight: int = 4, timeout_s: float = 30.0, fallback_local: bool = False,
                 exact_decode: bool = False) -> None:
        self.name = name
        self.identity = f"{name}@remote"
        self.reference = reference
        self.embed_dim: int | None = reference.embed_dim if reference else None
        base = (reference.preprocess if reference else
                ShortSide(input_size(name), (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)))
        self.preprocess = replace(base, draft=not exact_decode)
        super().__init__(urls, in_flight=in_flight, timeout_s=timeout_s,
                         fallback_local=fallback_local and reference is not None)
        self._anchor: NDArray[np.float32] | None = None
        self._pool = ThreadPoolExecutor(max(1, len(self.workers) * self.in_flight),
                                        thread_name_prefix="remote-ml")
        self._texts: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._texts_lock = threading.Lock()
        self._spot = 0
        self._distrusted: dict[str, float] = {}
        self.distrust_listeners: list[Callable[[str, float], None]] = []
        """Called with (worker URL, wall time of its last passed check) when a worker is
        caught answering wrongly: what it sent since then is to be redone."""

    # --------------------------------------------------------------- protocol
    def _post(self, worker: Worker, entries: dict[str, Any], image: bytes | None = None,
              text: str | None = None, deadline: float | None = None) -> NDArray[np.float32]:
        fields = {"entries": json.dumps(entries)}
        if text is not None:
            fields["text"] = text
        body, content_type = multipart(fields, {"image": image} if image is not None else {})
        start = time.monotonic()
        until = start + self.timeout_s if deadline is None else min(deadline,
                                                                     start + self.timeout_s)
        try:
            raw = post(worker.url + "/predict", body, content_type, until)
        except OSError as exc:  # refused, reset, timed out, cut off mid-answer
            message = str(exc) if str(exc).startswith("unreachable") else f"unreachable: {exc!r}"
            raise OSError(message) from None
        elapsed = time.monotonic() - start
        vector = parse_vector(load_json(raw, "the answer"), self.embed_dim)
        with self._cond:
            worker.latency_s = (elapsed if worker.latency_s is None
                                else 0.8 * worker.latency_s + 0.2 * elapsed)
            if self.embed_dim is None:
                self.embed_dim = len(vector)
        return vector

    def _visual(self, worker: Worker, image: bytes,
                deadline: float | None = None) -> NDArray[np.float32]:
        return self._post(worker, {"clip": {"visual": {"modelName": self.name, "options": {}}}},
                          image=image, deadline=deadline)

    def _check(self, worker: Worker) -> None:
        """Before a worker's first item, after any fault, and every RECHECK_ITEMS items: its
        vector for the probe image must match the reference's, made from the very JPEG the
        worker was sent (like with like). A worker that cannot embed the probe at all does
        not serve this model (immich answers HTTP 500 for a model name it lacks)."""
        with self._check_locks[worker.url]:
            if worker.checked:
                return
            sent = jpeg(self.preprocess.resize(probe_image(self.preprocess.size)))
            try:
                theirs = self._visual(worker, sent)
            except HttpStatus as exc:
                raise Refused(f"does not serve {self.name}: the probe image got {exc}") from None
            ours = self._reference_vector(as_sent(sent))
            if ours is None:
                with self._cond:
                    if self._anchor is None:
                        self._anchor = theirs
                    ours = self._anchor
            cosine = float(theirs @ ours)
            if cosine < AGREEMENT:
                refusal = (f"disagrees with the "
                           f"{'local model' if self.reference else 'other workers'} "
                           f"(cosine {cosine:.3f} on the probe image, needs "
                           f"{AGREEMENT}): is it running {self.name}?")
                log.error("%s %s", worker.url, refusal)
                raise Refused(refusal)
            self._passed_check(worker)

    def _reference_vector(self, pixels: Image.Image) -> NDArray[np.float32] | None:
        if self.reference is None:
            return None
        vector: NDArray[np.float32] = self.reference.embed_images(
            self.reference.preprocess.to_array(self.reference.preprocess.resize(pixels))[None])[0]
        return vector

    def embed_one(self, pixels: Image.Image, deadline: float | None = None,
                  interactive: bool = False) -> FromWorker:
        data = jpeg(pixels)
        vector, maker = self._on_some_worker(lambda w, until: self._visual(w, data, until),
                                             lambda: self._local_vector(pixels), len(data),
                                             deadline, interactive)
        made = FromWorker(vector, maker, time.time())
        return self._spot_check(made, pixels)

    def _spot_check(self, made: FromWorker, pixels: Image.Image) -> FromWorker:
        """Every SPOT_CHECK_EVERY-th vector from a worker is checked against the local model,
        when there is one. A worker caught disagreeing is refused, what it sent since its
        last passed check is handed to the distrust listeners to redo, and this item gets
        the local model's vector."""
        if self.reference is None or made.worker == "local":
            return made
        with self._cond:
            self._spot += 1
            due = self._spot % SPOT_CHECK_EVERY == 0
        if not due:
            return made
        ours = self._local_vector(pixels)
        cosine = float(made.vector @ ours)
        if cosine >= AGREEMENT:
            return made
        worker = next(w for w in self.workers if w.url == made.worker)
        with self._cond:
            since = worker.checked_wall
            self._distrusted[worker.url] = min(since, self._distrusted.get(worker.url, since))
            worker.refused = (f"{worker.url} answered an image with a vector the local model "
                              f"disagrees with (cosine {cosine:.3f}); what it sent since "
                              "its last check is embedded again")
            worker.last_error = worker.refused
            worker.failures += 1
            worker.checked = False
            worker.retry_at = time.monotonic() + REFUSED_RECHECK_S
            self._cond.notify_all()
        log.error("%s", worker.refused)
        for listener in list(self.distrust_listeners):
            try:
                listener(worker.url, since)
            except Exception:
                log.exception("a distrust listener failed")
        return FromWorker(ours, "local", time.time())

    # ------------------------------------------------------ the ImageModel protocol
    def pixel_need(self) -> PixelNeed:
        """The model's input size on the short side (the whole photo under exact_decode)."""
        return PixelNeed(shortest=self.preprocess.size) if self.preprocess.draft else PixelNeed()

    def prepare(self, img: Image.Image) -> Image.Image:
        """What goes over the wire: the upright image at the model's size (sent as JPEG)."""
        return self.preprocess.resize(img)

    def embed_prepared(self, inputs: list[Any]) -> list[Embedded | Exception]:
        return [made if isinstance(made, Exception) else
                Embedded(made.vector, {"worker": made.worker, "at": made.at})
                for made in self.embed_pixels(inputs)]

    def trusted(self, made: Embedded) -> bool:
        """False for a vector from a worker since caught lying, made after its last passed
        check (an answer that was in flight when the worker was caught)."""
        worker = made.source.get("worker")
        with self._cond:
            since = self._distrusted.get(worker) if isinstance(worker, str) else None
        return since is None or float(made.source.get("at", 0)) < since

    def embed_image(self, img: Image.Image) -> NDArray[np.float32]:
        """One upright RGB image someone waits for (search by image): within the timeout."""
        return self.embed_one(self.preprocess.resize(img),
                              deadline=time.monotonic() + self.timeout_s,
                              interactive=True).vector

    def _local(self) -> ClipModel:
        assert self.reference is not None  # fallback is on only with a local model
        return self.reference

    def _local_vector(self, pixels: Image.Image) -> NDArray[np.float32]:
        vector = self._reference_vector(pixels)
        assert vector is not None  # fallback is on only with a local model
        return vector

    def embed_pixels(self, images: list[Image.Image]) -> list[FromWorker | ItemFault]:
        """A vector for each image with where it came from, or the ItemFault that says why a
        worker could not embed that one image; spread over the workers."""
        def one(img: Image.Image) -> FromWorker | ItemFault:
            try:
                return self.embed_one(img)
            except ItemFault as fault:
                return fault

        return list(self._pool.map(one, images))

    def pixels_from_path(self, path: str) -> Image.Image:
        with decoded(path, self.preprocess.decode_target()) as img:
            return self.preprocess.resize(to_rgb(img))

    def embed_text(self, text: str, language: str | None = None) -> NDArray[np.float32]:
        key = f"{language or ''}\x00{text}"
        with self._texts_lock:
            if key in self._texts:
                return self._texts[key]
        entries = {"clip": {"textual": {"modelName": self.name,
                                        "options": {"language": language or "en"}}}}
        # Someone waits for a query: it answers within the timeout, or says why not (at
        # once while every worker is known to be down).
        vector, _ = self._on_some_worker(
            lambda w, until: self._post(w, entries, text=text, deadline=until),
            lambda: self._local().embed_text(text, language),
            deadline=time.monotonic() + self.timeout_s, interactive=True)
        with self._texts_lock:
            self._texts[key] = vector
            while len(self._texts) > 256:
                self._texts.popitem(last=False)
        return vector

    def embed_texts(self, texts: list[str], language: str | None = None) -> NDArray[np.float32]:
        return np.stack([self.embed_text(t, language) for t in texts])

    # ------------------------------------------------------------------ status
    def remote_status(self) -> dict[str, Any]:
        workers = self.workers_status()
        usable = [w for w in workers if w["state"] in ("up", "unknown")]
        return {"workers": workers, "waiting": self.waiting,
                "fallback_local": self.fallback_local,
                "checked_against": "the local model" if self.reference else "the first worker",
                "problem": None if usable else (
                    "every remote worker is down or refused" +
                    ("; embedding locally meanwhile" if self.fallback_local else
                     "; embedding waits until one is back"))}

    def status(self) -> dict[str, Any]:
        """Its part of the model service's status: every worker's state."""
        remote = self.remote_status()
        return {"backend": "remote", "providers": ["immich machine-learning workers"],
                "text_session_loaded": False, "warning": None, "remote": remote,
                "problem": remote["problem"]}

    def warning(self) -> str | None:
        return None

    def unload_idle(self) -> None:
        if self.reference is not None:
            self.reference.unload_idle()

    def close(self) -> None:
        self.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
