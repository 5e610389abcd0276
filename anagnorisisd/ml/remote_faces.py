"""Faces from immich machine-learning workers, over immich's own protocol.

`POST /predict` with `entries` = `{"facial-recognition": {"detection": {"modelName": NAME,
"options": {"minScore": S}}, "recognition": {"modelName": NAME}}}` and the picture as
`image`; the answer is `{"facial-recognition": [{"boundingBox": {"x1", "y1", "x2", "y2"},
"embedding": "<JSON array>", "score"}, …], "imageHeight", "imageWidth"}`. immich sends no
landmarks, so remote faces have none.

The workers are spread, retried and backed off as for CLIP (ml.worker_pool). A worker's
identity is checked on a probe photo with a face: against the local model where it is
installed (boxes IoU 0.9 or more, vectors cosine 0.99 or more), else against the first
worker that answered, each on the very JPEG the worker was sent. A box that reaches past
the picture is cut to it, as the local detector's are; a box wholly outside it or of no
size, non-finite numbers or a vector whose length changes make the answer odd
(worker_pool: the worker is probed again, and the photo fails if the probe passes).
"""

from __future__ import annotations

import io
import json
import math
import time
from importlib import resources
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from anagnorisisd.ml.faces import Face, LocalFaces, largest
from anagnorisisd.ml.remote_protocol import (
    HttpStatus,
    Refused,
    RemoteError,
    as_sent,
    jpeg,
    load_json,
    multipart,
    post,
    read_vector,
)
from anagnorisisd.ml.remote_worker import Worker
from anagnorisisd.ml.worker_pool import WorkerPool

MAX_FACES_ANSWERED = 1000
MAX_FACE_VECTOR = 4096
PROBE_IOU, PROBE_COSINE = 0.9, 0.99


def probe_photo() -> NDArray[np.uint8]:
    """A public-domain photo with one clear face (NASA's portrait of Eileen Collins, as
    scikit-image ships it), the same on every machine."""
    data = (resources.files("anagnorisisd.ml") / "shipped" / "face_probe.jpg").read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class RemoteFaces(WorkerPool):
    """The face model, served by immich machine-learning workers."""

    def __init__(self, name: str, urls: list[str], reference: LocalFaces | None, *,
                 in_flight: int = 4, timeout_s: float = 30.0) -> None:
        super().__init__(urls, in_flight=in_flight, timeout_s=timeout_s, fallback_local=False)
        self.name = name
        self.reference = reference
        self.dim: int | None = None
        self._anchor: list[Face] | None = None

    @property
    def identity(self) -> str:
        return f"{self.name}@remote"

    def _ask(self, worker: Worker, sent: bytes, size: tuple[int, int], min_score: float,
             deadline: float | None) -> list[Face]:
        """The faces in the JPEG `sent` (`size`: its width and height), in its pixels."""
        entries = {"facial-recognition": {
            "detection": {"modelName": self.name, "options": {"minScore": min_score}},
            "recognition": {"modelName": self.name}}}
        body, content_type = multipart({"entries": json.dumps(entries)}, {"image": sent})
        start = time.monotonic()
        until = start + self.timeout_s if deadline is None else min(deadline,
                                                                     start + self.timeout_s)
        try:
            raw = post(worker.url + "/predict", body, content_type, until)
        except OSError as exc:
            message = str(exc) if str(exc).startswith("unreachable") else f"unreachable: {exc!r}"
            raise OSError(message) from None
        faces = self._parse(load_json(raw, "the answer"), *size)
        with self._cond:
            elapsed = time.monotonic() - start
            worker.latency_s = (elapsed if worker.latency_s is None
                                else 0.8 * worker.latency_s + 0.2 * elapsed)
        return faces

    def _parse(self, answer: Any, width: int, height: int) -> list[Face]:
        listed = answer.get("facial-recognition") if isinstance(answer, dict) else None
        if not isinstance(listed, list) or len(listed) > MAX_FACES_ANSWERED:
            raise RemoteError("returned garbage: no list of faces under 'facial-recognition'")
        faces = []
        for item in listed:
            if not isinstance(item, dict):
                raise RemoteError("returned garbage: a face that is not an object")
            raw_box = _box(item.get("boundingBox"))
            box = clipped(raw_box, width, height)
            if box is None:
                raise RemoteError(f"returned a face box {[round(v, 1) for v in raw_box]} "
                                  f"outside the {width}x{height} picture it was sent, or of "
                                  "no size")
            score = item.get("score")
            if not isinstance(score, int | float) or not 0.0 <= float(score) <= 1.0:
                raise RemoteError("returned garbage: a face score that is not in 0..1")
            vector = read_vector(item.get("embedding"), "a face's 'embedding'", MAX_FACE_VECTOR)
            with self._cond:
                if self.dim is None:
                    self.dim = len(vector)
            if len(vector) != self.dim:
                raise Refused(f"returned a face vector of {len(vector)} numbers, not "
                              f"{self.dim}: another model")
            faces.append(Face(box=box, score=float(score), vector=vector))
        return faces

    def _check(self, worker: Worker) -> None:
        """The probe photo's faces must match the reference's for the very JPEG the worker
        was sent (like with like: the local model on the pixels before the JPEG gave a
        cosine of 0.975 on identical model files)."""
        with self._check_locks[worker.url]:
            if worker.checked:
                return
            probe = probe_photo()
            sent = jpeg(Image.fromarray(probe))
            try:
                theirs = self._ask(worker, sent, (probe.shape[1], probe.shape[0]), 0.5, None)
            except HttpStatus as exc:
                raise Refused(f"does not serve {self.name}: the probe photo got {exc}") from None
            if self.reference is not None:
                ours, _ = self.reference.faces(np.asarray(as_sent(sent)), 0.5)
                against = "the local model"
            else:
                with self._cond:
                    if self._anchor is None:
                        self._anchor = theirs
                    ours = self._anchor
                against = "the first worker"
            problem = disagreement(theirs, ours)
            if problem:
                raise Refused(f"disagrees with {against} on the probe photo ({problem}): is "
                              f"it running {self.name}?")
            self._passed_check(worker)

    def available(self) -> bool:
        return self.serving()

    def faces(self, rgb: NDArray[np.uint8], min_score: float,
              most: int | None = None) -> tuple[list[Face], int]:
        """Within the timeout, or NoWorker: a photo never holds its trip through the
        pipeline waiting for a face worker (the stage retries it later)."""
        sent = jpeg(Image.fromarray(rgb))
        size = (rgb.shape[1], rgb.shape[0])
        found, _ = self._on_some_worker(
            lambda worker, until: self._ask(worker, sent, size, min_score, until),
            lambda: [], len(sent), deadline=time.monotonic() + self.timeout_s)
        boxes = np.asarray([f.box for f in found], dtype=np.float32).reshape(-1, 4)
        return [found[i] for i in largest(boxes, most)], len(found)

    def status(self) -> dict[str, Any]:
        return {"workers": self.workers_status(), "waiting": self.waiting}


def disagreement(theirs: list[Face], ours: list[Face]) -> str | None:
    """Why two answers for the same photo are not the same model's, or None."""
    if not ours:
        return None if not theirs else f"{len(theirs)} faces where there are none"
    if not theirs:
        return "no face where there is one"
    for face in ours:
        best = max(theirs, key=lambda t: iou(t.box, face.box))
        overlap = iou(best.box, face.box)
        if overlap < PROBE_IOU:
            return f"box overlap {overlap:.2f}, needs {PROBE_IOU}"
        if len(best.vector) != len(face.vector):
            return f"vectors of {len(best.vector)} numbers, not {len(face.vector)}"
        cosine = float(best.vector @ face.vector)
        if cosine < PROBE_COSINE:
            return f"vector cosine {cosine:.3f}, needs {PROBE_COSINE}"
    return None


def clipped(box: tuple[float, float, float, float], width: int, height: int
            ) -> tuple[float, float, float, float] | None:
    """A face box cut to the picture, as the local detector's boxes are (immich's detector
    does not cut them: a face at the edge reaches a few pixels past it); None for a box
    wholly outside the picture or less than a pixel wide or high, which is a lie."""
    x1, y1 = max(0.0, box[0]), max(0.0, box[1])
    x2, y2 = min(float(width), box[2]), min(float(height), box[3])
    if x2 - x1 < 1.0 or y2 - y1 < 1.0:
        return None
    return (x1, y1, x2, y2)


def _box(raw: Any) -> tuple[float, float, float, float]:
    if not isinstance(raw, dict):
        raise RemoteError("returned garbage: a face without a boundingBox")
    values = [raw.get(k) for k in ("x1", "y1", "x2", "y2")]
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
               for v in values):
        raise RemoteError("returned garbage: a boundingBox that is not four numbers")
    return (float(values[0]), float(values[1]), float(values[2]),  # type: ignore[arg-type]
            float(values[3]))  # type: ignore[arg-type]
