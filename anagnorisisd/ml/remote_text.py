"""Text from immich machine-learning workers, over immich's own protocol.

`POST /predict` with `entries` = `{"ocr": {"detection": {"modelName": NAME, "options":
{"maxResolution": 736, "minScore": 0.5}}, "recognition": {"modelName": NAME, "options":
{"minScore": 0.9}}}}` and the picture as `image`; the answer is `{"ocr": {"text": [...],
"box": [8 numbers per line, corners as fractions of the picture], "boxScore": [...],
"textScore": [...]}, "imageHeight", "imageWidth"}`.

Workers are spread, retried and backed off as for CLIP and faces (ml.worker_pool). A
worker's identity is checked on a probe picture with known words (`probe_page`): against
the local model where it is installed (the same lines in the same places, read from the
very JPEG the worker was sent, in any order), else against the first worker that answered.
A line box reaching past the picture is cut to it; lists of different lengths refuse the
worker; a box wholly outside the picture or numbers that are not finite make the answer
odd (worker_pool: the worker is probed again, and the photo fails if the probe passes).
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from anagnorisisd.ml.ocr import (
    DETECT_SIDE,
    MIN_BOX_SCORE,
    MIN_TEXT_SCORE,
    LocalText,
    TextLine,
    keep_lines,
)
from anagnorisisd.ml.remote_protocol import (
    HttpStatus,
    Refused,
    RemoteError,
    as_sent,
    jpeg,
    load_json,
    multipart,
    post,
)
from anagnorisisd.ml.remote_worker import Worker
from anagnorisisd.ml.worker_pool import WorkerPool
from anagnorisisd.strings import scrub

MAX_LINES_ANSWERED = 5000
MAX_LINE_CHARS = 2000
LINE_IOU = 0.5
"""How much a worker's box for a probe line must overlap the reference's."""
PROBE_WORDS = ("ANAGNORISIS", "probe 2026", "wifi password")


def probe_page() -> NDArray[np.uint8]:
    """Black words on white, drawn with Pillow's own font: the same picture everywhere."""
    img = Image.new("RGB", (640, 280), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=44)
    for i, words in enumerate(PROBE_WORDS):
        draw.text((30, 24 + 84 * i), words, fill="black", font=font)
    return np.asarray(img)


def words_of(lines: list[TextLine]) -> str:
    return " ".join(" ".join(line.text for line in lines).lower().split())


class RemoteText(WorkerPool):
    """The text model, served by immich machine-learning workers."""

    def __init__(self, name: str, urls: list[str], reference: LocalText | None, *,
                 in_flight: int = 4, timeout_s: float = 30.0) -> None:
        super().__init__(urls, in_flight=in_flight, timeout_s=timeout_s, fallback_local=False)
        self.name = name
        self.reference = reference
        self._anchor: list[TextLine] | None = None

    @property
    def identity(self) -> str:
        return f"{self.name}@remote"

    def available(self) -> bool:
        return self.serving()

    def _ask(self, worker: Worker, sent: bytes, size: tuple[int, int],
             deadline: float | None) -> list[TextLine]:
        """The lines read in the JPEG `sent` (`size`: its width and height), in its pixels."""
        entries = {"ocr": {
            "detection": {"modelName": self.name,
                          "options": {"maxResolution": DETECT_SIDE, "minScore": MIN_BOX_SCORE}},
            "recognition": {"modelName": self.name, "options": {"minScore": MIN_TEXT_SCORE}}}}
        body, content_type = multipart({"entries": json.dumps(entries)}, {"image": sent})
        start = time.monotonic()
        until = start + self.timeout_s if deadline is None else min(deadline,
                                                                     start + self.timeout_s)
        try:
            raw = post(worker.url + "/predict", body, content_type, until)
        except OSError as exc:
            message = str(exc) if str(exc).startswith("unreachable") else f"unreachable: {exc!r}"
            raise OSError(message) from None
        lines = parse_answer(load_json(raw, "the answer"), *size)
        with self._cond:
            elapsed = time.monotonic() - start
            worker.latency_s = (elapsed if worker.latency_s is None
                                else 0.8 * worker.latency_s + 0.2 * elapsed)
        return lines

    def _check(self, worker: Worker) -> None:
        """The probe page must be read as the reference reads the very JPEG the worker was
        sent: the same lines in the same places, in whatever order the worker lists them
        (immich lists them in an order of its own)."""
        with self._check_locks[worker.url]:
            if worker.checked:
                return
            probe = probe_page()
            sent = jpeg(Image.fromarray(probe))
            try:
                theirs = self._ask(worker, sent, (probe.shape[1], probe.shape[0]), None)
            except HttpStatus as exc:
                raise Refused(f"does not serve {self.name}: the probe page got {exc}") from None
            if self.reference is not None:
                ours = self.reference.read(np.asarray(as_sent(sent)))
                against = "the local model"
            else:
                with self._cond:
                    if self._anchor is None:
                        self._anchor = theirs
                    ours, against = self._anchor, "the first worker"
            problem = reading_difference(theirs, ours)
            if problem is not None:
                raise Refused(f"reads the probe page otherwise than {against} ({problem}): "
                              f"is it running {self.name}?")
            self._passed_check(worker)

    def read(self, rgb: NDArray[np.uint8]) -> list[TextLine]:
        """Within the timeout, or NoWorker: the stage then tries the photo again later."""
        sent = jpeg(Image.fromarray(rgb))
        size = (rgb.shape[1], rgb.shape[0])
        lines, _ = self._on_some_worker(
            lambda worker, until: self._ask(worker, sent, size, until), lambda: [],
            len(sent), deadline=time.monotonic() + self.timeout_s)
        return lines

    def status(self) -> dict[str, Any]:
        return {"workers": self.workers_status(), "waiting": self.waiting}


def reading_difference(theirs: list[TextLine], ours: list[TextLine]) -> str | None:
    """Why two readings of one picture are not the same model's, or None: the same lines
    (words, any case and spacing), each with a box overlapping its twin's by half or
    more. Order is not identity."""
    def key(line: TextLine) -> str:
        return " ".join(line.text.lower().split())

    if sorted(map(key, theirs)) != sorted(map(key, ours)):
        return (f"lines {sorted(map(key, theirs))[:4]!r}, where it reads "
                f"{sorted(map(key, ours))[:4]!r}")
    unmatched = list(theirs)
    for line in ours:
        twin = max((t for t in unmatched if key(t) == key(line)),
                   key=lambda t: box_iou(t.box, line.box))
        if box_iou(twin.box, line.box) < LINE_IOU:
            return f"{line.text!r} in another place (overlap {box_iou(twin.box, line.box):.2f})"
        unmatched.remove(twin)
    return None


def box_iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


def parse_answer(answer: Any, width: int, height: int) -> list[TextLine]:
    """The lines of an `ocr` answer in the pixels of the picture sent, or RemoteError."""
    found = answer.get("ocr") if isinstance(answer, dict) else None
    if not isinstance(found, dict):
        raise RemoteError("returned garbage: no object under 'ocr'")
    texts, boxes = found.get("text"), found.get("box")
    box_scores, text_scores = found.get("boxScore"), found.get("textScore")
    if not all(isinstance(v, list) for v in (texts, boxes, box_scores, text_scores)):
        raise RemoteError("returned garbage: 'ocr' lacks the lists text, box, boxScore and "
                          "textScore")
    assert isinstance(texts, list) and isinstance(boxes, list)
    assert isinstance(box_scores, list) and isinstance(text_scores, list)
    count = len(texts)
    if count > MAX_LINES_ANSWERED:
        raise RemoteError(f"returned garbage: {count} lines of text")
    if len(boxes) != 8 * count or len(box_scores) != count or len(text_scores) != count:
        raise Refused(f"returned {count} texts with {len(boxes)} box numbers, "
                      f"{len(box_scores)} box scores and {len(text_scores)} text scores: "
                      "the lists must match")
    if not all(isinstance(t, str) and len(t) <= MAX_LINE_CHARS for t in texts):
        raise RemoteError("returned garbage: a text that is not a string of sensible length")
    numbers = boxes + box_scores + text_scores
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
               for v in numbers):
        raise RemoteError("returned garbage: a box or score that is not a finite number")
    corners = np.asarray(boxes, dtype=np.float64).reshape(-1, 4, 2)
    if corners.size and (np.any(corners.max(axis=1) <= 0.0) or np.any(corners.min(axis=1) >= 1.0)):
        raise RemoteError("returned a text box wholly outside the picture it was sent "
                          "(corners are fractions of the picture, 0 to 1)")
    if any(not 0.0 <= float(s) <= 1.0 for s in box_scores + text_scores):
        raise RemoteError("returned garbage: a score that is not in 0..1")
    corners = np.clip(corners, 0.0, 1.0) * np.asarray([width, height], dtype=np.float64)
    return keep_lines(corners.astype(np.float32), box_scores, [scrub(t) for t in texts],
                      text_scores, 0.0)
