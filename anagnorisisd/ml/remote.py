"""Embeddings from immich machine-learning workers over HTTP, spread over every worker.

The protocol is immich's own (its machine-learning service, immich_ml/main.py): `GET /ping`
answers "pong"; `POST /predict` takes a multipart form with `entries`, a JSON object naming
the task, the type and the model (`{"clip": {"visual": {"modelName": "…"}}}`), and either an
`image` file or a `text` field; the answer is `{"clip": <the vector, as a JSON array or a
string holding one>, …}`. Vectors are L2-normalised here, as the local model's are.

What crosses the network is the model's input, not the photo: the decoded, upright image
at the size the model needs, as a JPEG (quality 95, 4:4:4), a few tens of kilobytes.

Workers are trusted with nothing: each is checked once, on a fixed probe image, against the
local model when it is installed (else against the first worker that answered), and one
that disagrees, or answers with anything but a vector of the right length, is refused with
its reason. A worker that fails or times out is skipped for a while (2 s, doubling to a
minute) and its item goes to another; nothing is marked failed because a worker was down.
With every worker down, an item waits (status says so) or, with `fallback = "local"`, is
embedded by the local model, whose vectors the probe showed to agree.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from anagnorisisd.imaging.convert import to_rgb
from anagnorisisd.imaging.decoding import decoded
from anagnorisisd.ml.clip import ClipModel, l2_normalise
from anagnorisisd.ml.preprocess import MAX_STRETCH, Preprocessor

log = logging.getLogger(__name__)

AGREEMENT = 0.99
"""Least cosine between a worker's and the reference's vector for the probe image (JPEG at
quality 95 costs about 0.001)."""
BACKOFF_FIRST_S, BACKOFF_MAX_S = 2.0, 60.0
JPEG_QUALITY = 95
"""With full-resolution colour (4:4:4): the default 4:2:0 halves colour resolution, which at a
64 px model input moved the small test model's probe vector to a cosine of 0.964; 4:4:4
keeps it at 0.99998 for a quarter more bytes."""


class RemoteError(Exception):
    """One line: what a worker did wrong."""


class Stopped(Exception):
    """The daemon is stopping while an item waited for a worker."""


class ShortSide(Preprocessor):
    """Without the model's files here, the exact crop is unknown (open_clip crops most
    models and squashes SigLIP's): send the whole upright image with its short side at the
    model's size, and let the worker's own preprocessing crop or squash it."""

    def resize(self, img: Image.Image) -> Image.Image:
        s = self.size
        w, h = img.size
        scale = s / min(w, h)
        new = (max(1, min(round(w * scale), MAX_STRETCH * s)),
               max(1, min(round(h * scale), MAX_STRETCH * s)))
        return img if new == (w, h) else img.resize(new, self.interpolation)


def input_size(name: str) -> int:
    """immich's model names end in their input size when it is not 224 ("…-SigLIP2-384")."""
    for part in reversed(name.replace("__", "-").split("-")):
        if part.isdigit() and len(part) == 3:
            return int(part)
    return 224


def probe_image(size: int) -> Image.Image:
    """A fixed picture with colour, edges and gradients, the same on every machine."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    rgb = np.stack([x, y, (x + y) / 2], axis=-1)
    rgb[size // 4 : size // 2, size // 4 : 3 * size // 4] = (0.9, 0.1, 0.1)
    return Image.fromarray((rgb * 255).astype(np.uint8), "RGB")


def jpeg(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=JPEG_QUALITY, subsampling=0)  # 4:4:4, see below
    return out.getvalue()


def multipart(fields: dict[str, str], files: dict[str, bytes]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     .encode() + value.encode() + b"\r\n")
    for name, data in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{name}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode()
                     + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def parse_vector(answer: Any, dim: int | None) -> NDArray[np.float32]:
    """The embedding out of a /predict answer, or RemoteError saying what was wrong."""
    raw = answer.get("clip") if isinstance(answer, dict) else None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise RemoteError("returned garbage: 'clip' is a string but not a JSON array") from None
    if not isinstance(raw, list) or not raw or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in raw):
        raise RemoteError("returned garbage: no vector of numbers under 'clip'")
    vector = np.asarray(raw, dtype=np.float32)
    if not np.all(np.isfinite(vector)) or not np.any(vector):
        raise RemoteError("returned garbage: the vector is zero or not finite")
    if dim is not None and len(vector) != dim:
        raise RemoteError(f"returned garbage: a vector of {len(vector)} numbers, not {dim}")
    return l2_normalise(vector)


@dataclass
class Worker:
    url: str
    up: bool | None = None
    refused: str | None = None
    checked: bool = False
    latency_s: float | None = None
    done: int = 0
    bytes_sent: int = 0
    failures: int = 0
    last_error: str | None = None
    retry_at: float = 0.0
    backoff: float = 0.0
    in_flight: int = 0
    finished: deque[float] = field(default_factory=lambda: deque(maxlen=256))

    def usable(self, now: float, limit: int) -> bool:
        return self.refused is None and self.retry_at <= now and self.in_flight < limit

    def rate(self, now: float, window: float = 30.0) -> float:
        recent = [t for t in self.finished if now - t <= window]
        if len(recent) < 2:
            return 0.0
        return len(recent) / max(now - recent[0], 1e-3)

    def as_dict(self, now: float) -> dict[str, Any]:
        state = ("refused" if self.refused else "unknown" if self.up is None
                 else "up" if self.up and self.retry_at <= now else "down")
        return {"url": self.url, "state": state, "up": state == "up",
                "latency_ms": round(self.latency_s * 1000, 1) if self.latency_s else None,
                "images_per_s": round(self.rate(now), 2), "done": self.done,
                "bytes_per_image": round(self.bytes_sent / self.done) if self.done else None,
                "failures": self.failures, "last_error": self.last_error,
                "refused": self.refused, "checked": self.checked, "in_flight": self.in_flight,
                "retry_in_s": round(max(0.0, self.retry_at - now), 1)
                if state == "down" else None}


class RemoteClip:
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
        self.workers = [Worker(u.rstrip("/")) for u in urls]
        self.in_flight = max(1, in_flight)
        self.timeout_s = timeout_s
        self.fallback_local = fallback_local and reference is not None
        self.waiting = 0
        self._anchor: NDArray[np.float32] | None = None
        self._cond = threading.Condition()
        self._check_locks = {w.url: threading.Lock() for w in self.workers}
        self._stopped = threading.Event()
        self._pool = ThreadPoolExecutor(max(1, len(self.workers) * self.in_flight),
                                        thread_name_prefix="remote-ml")
        self._texts: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._texts_lock = threading.Lock()

    # --------------------------------------------------------------- protocol
    def _post(self, worker: Worker, entries: dict[str, Any], image: bytes | None = None,
              text: str | None = None) -> NDArray[np.float32]:
        fields = {"entries": json.dumps(entries)}
        if text is not None:
            fields["text"] = text
        body, content_type = multipart(fields, {"image": image} if image is not None else {})
        request = urllib.request.Request(worker.url + "/predict", data=body, method="POST",
                                         headers={"Content-Type": content_type})
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read(1 << 22)
        except urllib.error.HTTPError as exc:
            raise RemoteError(f"answered HTTP {exc.code}: {exc.read(300).decode(errors='replace')}"
                              ) from None
        except (OSError, ValueError, http.client.HTTPException) as exc:  # refused, reset,
            # timed out, cut off mid-answer
            raise OSError(f"unreachable: {getattr(exc, 'reason', None) or exc!r}") from None
        elapsed = time.perf_counter() - start
        try:
            answer = json.loads(raw)
        except ValueError:
            raise RemoteError("returned garbage: the answer is not JSON") from None
        vector = parse_vector(answer, self.embed_dim)
        with self._cond:
            worker.latency_s = (elapsed if worker.latency_s is None
                                else 0.8 * worker.latency_s + 0.2 * elapsed)
            if self.embed_dim is None:
                self.embed_dim = len(vector)
        return vector

    def _visual(self, worker: Worker, image: bytes) -> NDArray[np.float32]:
        return self._post(worker, {"clip": {"visual": {"modelName": self.name, "options": {}}}},
                          image=image)

    # -------------------------------------------------------------- choosing
    def _acquire(self) -> Worker | None:
        """The usable worker with the fewest requests in flight; None means "embed locally"
        (fallback); waits while every worker is down, since nothing should fail for it."""
        with self._cond:
            self.waiting += 1
            try:
                while True:
                    if self._stopped.is_set():
                        raise Stopped
                    now = time.monotonic()
                    usable = [w for w in self.workers if w.usable(now, self.in_flight)]
                    if usable:
                        worker = min(usable, key=lambda w: (w.in_flight, w.latency_s or 0.0))
                        worker.in_flight += 1
                        return worker
                    live = [w for w in self.workers if w.refused is None]
                    if self.fallback_local and all(w.in_flight == 0 for w in live):
                        return None
                    soonest = min((w.retry_at for w in live if w.retry_at > now), default=now + 1)
                    self._cond.wait(timeout=max(0.05, min(soonest - now, 1.0)))
            finally:
                self.waiting -= 1

    def _release(self, worker: Worker, error: Exception | None, sent: int = 0) -> None:
        with self._cond:
            worker.in_flight -= 1
            if error is None:
                worker.up, worker.backoff, worker.retry_at = True, 0.0, 0.0
                worker.done += 1
                worker.bytes_sent += sent
                worker.finished.append(time.monotonic())
            else:
                worker.failures += 1
                worker.last_error = str(error)
                if isinstance(error, RemoteError) and "garbage" in str(error):
                    worker.refused = f"{worker.url} {error}"
                else:
                    worker.up = False
                    worker.backoff = min(BACKOFF_MAX_S, max(BACKOFF_FIRST_S, 2 * worker.backoff))
                    worker.retry_at = time.monotonic() + worker.backoff
                log.warning("remote worker %s: %s", worker.url, error)
            self._cond.notify_all()

    def _check(self, worker: Worker) -> None:
        """Once per worker: its vector for the probe image must match the reference's."""
        with self._check_locks[worker.url]:
            if worker.checked:
                return
            probe = self.preprocess.resize(probe_image(self.preprocess.size))
            theirs = self._visual(worker, jpeg(probe))
            ours = self._reference_vector(probe)
            if ours is None:
                with self._cond:
                    if self._anchor is None:
                        self._anchor = theirs
                    ours = self._anchor
            cosine = float(theirs @ ours)
            if cosine < AGREEMENT:
                with self._cond:
                    worker.refused = (f"{worker.url} disagrees with the "
                                      f"{'local model' if self.reference else 'other workers'} "
                                      f"(cosine {cosine:.3f} on the probe image, needs "
                                      f"{AGREEMENT}): is it running {self.name}?")
                    worker.last_error = worker.refused
                    self._cond.notify_all()
                log.error("%s", worker.refused)
                raise RemoteError(worker.refused)
            worker.checked = True

    def _reference_vector(self, pixels: Image.Image) -> NDArray[np.float32] | None:
        if self.reference is None:
            return None
        vector: NDArray[np.float32] = self.reference.embed_images(
            self.reference.preprocess.to_array(self.reference.preprocess.resize(pixels))[None])[0]
        return vector

    # --------------------------------------------------------------- embedding
    def _on_some_worker(self, ask: Callable[[Worker], NDArray[np.float32]],
                        here: Callable[[], NDArray[np.float32]],
                        sent: int = 0) -> NDArray[np.float32]:
        """Ask workers until one answers (a failing one hands the item to the next: never a
        failure of the item), or embed `here` when every worker is down and fallback is on."""
        while True:
            worker = self._acquire()
            if worker is None:
                return here()
            try:
                self._check(worker)
                vector = ask(worker)
            except (RemoteError, OSError) as exc:
                self._release(worker, exc)
                continue
            self._release(worker, None, sent)
            return vector

    def embed_one(self, pixels: Image.Image) -> NDArray[np.float32]:
        data = jpeg(pixels)
        return self._on_some_worker(lambda w: self._visual(w, data),
                                    lambda: self._local_vector(pixels), len(data))

    def _local(self) -> ClipModel:
        assert self.reference is not None  # fallback is on only with a local model
        return self.reference

    def _local_vector(self, pixels: Image.Image) -> NDArray[np.float32]:
        vector = self._reference_vector(pixels)
        assert vector is not None  # fallback is on only with a local model
        return vector

    def embed_pixels(self, images: list[Image.Image]) -> NDArray[np.float32]:
        return np.stack(list(self._pool.map(self.embed_one, images)))

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
        vector = self._on_some_worker(lambda w: self._post(w, entries, text=text),
                                      lambda: self._local().embed_text(text, language))
        with self._texts_lock:
            self._texts[key] = vector
            while len(self._texts) > 256:
                self._texts.popitem(last=False)
        return vector

    def embed_texts(self, texts: list[str], language: str | None = None) -> NDArray[np.float32]:
        return np.stack([self.embed_text(t, language) for t in texts])

    # ------------------------------------------------------------------ status
    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        with self._cond:
            workers = [w.as_dict(now) for w in self.workers]
        usable = [w for w in workers if w["state"] in ("up", "unknown")]
        return {"workers": workers, "waiting": self.waiting,
                "fallback_local": self.fallback_local,
                "checked_against": "the local model" if self.reference else "the first worker",
                "problem": None if usable else (
                    "every remote worker is down or refused" +
                    ("; embedding locally meanwhile" if self.fallback_local else
                     "; embedding waits until one is back"))}

    def unload_idle(self) -> None:
        if self.reference is not None:
            self.reference.unload_idle()

    def close(self) -> None:
        self._stopped.set()
        with self._cond:
            self._cond.notify_all()
        self._pool.shutdown(wait=False, cancel_futures=True)
