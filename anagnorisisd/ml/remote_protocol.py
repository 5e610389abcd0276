"""The wire of immich's machine-learning protocol, and what can go wrong on it.

`POST /predict` takes a multipart form with `entries` (a JSON object naming the task, the
type and the model) and an `image` file or a `text` field; the answer holds the vector
under the task's name, as a JSON array or as a string holding one. Every answer is read
before a deadline and parsed as untrusted text: whatever comes back is either a vector or
a RemoteError saying what was wrong, never a hang, a crash or a leaked slot.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import socket
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from anagnorisisd.ml.clip import l2_normalise
from anagnorisisd.ml.protocol import ItemFault, NoWorker, Refused, RemoteError, Stopped

__all__ = ["HttpStatus", "ItemFault", "NoWorker", "Refused", "RemoteError", "Stopped"]

JPEG_QUALITY = 95
"""With full-resolution colour (4:4:4): the default 4:2:0 halves colour resolution, which at a
64 px model input moved the small test model's probe vector to a cosine of 0.964; 4:4:4
keeps it at 0.99998 for a quarter more bytes."""


@dataclass(frozen=True)
class FromWorker:
    """A vector and where it came from (a worker's URL, or "local"), so that what a worker
    sent can be found again and redone if the worker turns out to lie."""

    vector: NDArray[np.float32]
    worker: str
    at: float
    """Wall-clock time it was made."""


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


def as_sent(data: bytes) -> Image.Image:
    """The pixels a worker decodes from what it was sent: a check compares the reference's
    answer for these, like with like, never for the pixels before the JPEG."""
    with Image.open(io.BytesIO(data)) as img:
        return img.convert("RGB")


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


MAX_ANSWER_BYTES = 4 << 20
"""Far more than any vector's JSON (a 1,152-d vector is about 25 KB)."""
MAX_VECTOR = 8192


def load_json(raw: bytes | str, what: str) -> Any:
    """JSON from a worker, or RemoteError: deep nesting (RecursionError) and absurd numbers
    (ValueError past Python's digit limit) are garbage like any other."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError, MemoryError):
        raise RemoteError(f"returned garbage: {what} is not JSON that can be read") from None


def read_vector(raw: Any, where: str, longest: int = MAX_VECTOR) -> NDArray[np.float32]:
    """A worker's vector (a JSON array, or a string holding one), L2-normalised, or
    RemoteError saying what was wrong with it; `where` names it in the message."""
    if isinstance(raw, str):
        raw = load_json(raw, where)
    if not isinstance(raw, list) or not raw or len(raw) > longest or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in raw):
        raise RemoteError(f"returned garbage: no vector of numbers under {where}")
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            vector = np.asarray([float(v) for v in raw], dtype=np.float32)
    except (OverflowError, ValueError):
        raise RemoteError("returned garbage: a number too large for a vector") from None
    if not np.all(np.isfinite(vector)) or not np.any(vector):
        raise RemoteError("returned garbage: the vector is zero or not finite")
    return l2_normalise(vector)


def parse_vector(answer: Any, dim: int | None) -> NDArray[np.float32]:
    """The embedding out of a /predict answer, or RemoteError saying what was wrong."""
    vector = read_vector(answer.get("clip") if isinstance(answer, dict) else None, "'clip'")
    if dim is not None and len(vector) != dim:
        raise Refused(f"returned a vector of {len(vector)} numbers, not {dim}: another model")
    return vector


def post(url: str, body: bytes, content_type: str, deadline: float) -> bytes:
    """POST and read the whole answer before `deadline` (time.monotonic): a worker that
    drips its answer a byte at a time is cut off at the deadline, not after a timeout per
    read. A timer shuts the socket down when the time is up, whatever phase it is in.
    HTTP errors raise urllib.error.HTTPError-like RemoteErrors; the network, OSError."""
    parts = urllib.parse.urlsplit(url)
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise OSError("unreachable: no time left")
    conn_type = (http.client.HTTPSConnection if parts.scheme == "https"
                 else http.client.HTTPConnection)
    conn = conn_type(parts.hostname or "", parts.port, timeout=remaining)

    def cut_off() -> None:
        sock = conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(remaining, cut_off)
    timer.daemon = True
    timer.start()
    try:
        conn.request("POST", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
                     body=body, headers={"Content-Type": content_type})
        response = conn.getresponse()
        chunks: list[bytes] = []
        size = 0
        while True:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no whole answer within {remaining:.0f} s")
            chunk = response.read1(65536)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_ANSWER_BYTES:
                raise RemoteError(f"returned garbage: an answer over {MAX_ANSWER_BYTES} bytes")
            chunks.append(chunk)
        raw = b"".join(chunks)
        if response.status >= 400:
            raise HttpStatus(response.status, raw[:300].decode(errors="replace"))
        return raw
    except (http.client.HTTPException, ValueError) as exc:  # cut off mid-answer, bad framing
        raise OSError(f"unreachable: {exc!r}") from None
    finally:
        timer.cancel()
        conn.close()


class HttpStatus(RemoteError):
    """The worker answered with an HTTP error status."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"answered HTTP {status}: {text}")
        self.status = status
