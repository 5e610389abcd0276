"""Test helpers: real images, real configs, a real daemon process on loopback."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent


def parse(raw: str) -> Any:
    """A query read with every installed feature's words, as the daemon reads it."""
    from anagnorisisd.app.features import builtin_vocabulary

    return builtin_vocabulary().parse(raw)


CLOSED_HUB = {"HF_ENDPOINT": "http://127.0.0.1:9",
              "ANAGNORISISD_MODEL__PACKAGE_INDEX": "http://127.0.0.1:9/simple"}
"""A daemon or a command in a test asks no real hub and no real package index (not for a
model, not to see if one is there): closed ports, unless the test serves its own
(tests/hub_server.py, tests/package_index.py) and says so in its env."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(value)


def flat_tables(sections: dict[str, Any], prefix: str = "") -> dict[str, dict[str, Any]]:
    """Dotted table names for nested ones, so a config read back with tomllib can be
    written again with a section added ("stages" holding "faces" becomes "stages.faces")."""
    tables: dict[str, dict[str, Any]] = {}
    for name, values in sections.items():
        section = prefix + name
        scalars = {k: v for k, v in values.items() if not isinstance(v, dict)}
        if scalars or not values:
            tables.setdefault(section, {}).update(scalars)
        for sub, table in flat_tables({k: v for k, v in values.items()
                                       if isinstance(v, dict)}, section + ".").items():
            tables.setdefault(sub, {}).update(table)
    return tables


def write_config(path: Path, sections: dict[str, dict[str, Any]]) -> Path:
    """A config.toml of these sections. The faces stage's model is immich's buffalo_l
    unless a test names one: out of the box it is "auto", which runs dlib's models (0.2 to
    0.6 s a photo on one core) when buffalo_l is not installed, so a test that is not about
    faces would spend its time finding none in generated pictures. The tests about faces
    name the model they use ("auto" included)."""
    tables = flat_tables(sections)
    faces = tables.get("stages.faces", {})
    if "model" not in faces:
        tables["stages.faces"] = {"model": "buffalo_l", **faces}
    lines = []
    for section, values in tables.items():
        lines.append(f"[{section}]")
        lines.extend(f"{k} = {toml_value(v)}" for k, v in values.items())
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def make_photo(path: Path, width: int = 640, height: int = 480, seed: int = 0,
               quality: int = 85, exif: Image.Exif | None = None) -> Path:
    """A JPEG with real texture (smooth gradients plus noise), not flat colour."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(0, 255, 3)
    freq = rng.uniform(0.005, 0.03, 3)
    channels = [
        base[c] / 2 + 60 * np.sin(x * freq[c] + y * freq[(c + 1) % 3]) for c in range(3)
    ]
    img = np.stack(channels, axis=-1) + rng.normal(0, 18, (height, width, 3))
    path.parent.mkdir(parents=True, exist_ok=True)
    pil = Image.fromarray(np.clip(img + 64, 0, 255).astype(np.uint8))
    pil.save(path, "JPEG", quality=quality, **({"exif": exif} if exif is not None else {}))
    return path


def taken_at(path: Path, when: float) -> Path:
    """Give a JPEG a capture time as a camera does (EXIF DateTimeOriginal, the UTC wall
    clock of `when`) and the same modification time, without touching its pixels: an APP1
    segment goes in right after the JPEG's start. Only a photo's own time links shots into
    bursts; a file's modification time never does."""
    import datetime as dt

    exif = Image.Exif()
    stamp = dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y:%m:%d %H:%M:%S")
    exif.get_ifd(0x8769)[0x9003] = stamp
    segment = exif.tobytes()
    data = path.read_bytes()
    assert data[:2] == b"\xff\xd8", f"{path} is not a JPEG"
    app1 = b"\xff\xe1" + (len(segment) + 2).to_bytes(2, "big") + segment
    path.write_bytes(data[:2] + app1 + data[2:])
    os.utime(path, (when, when))
    return path


def browserless_photos(folder: Path, tiff_name: str = "scan.tif") -> None:
    """Photos a browser cannot show: a HEIC, a HEIC named .jpg (read by its content, not its
    name) and a TIFF, each 800 x 600, all different."""
    from anagnorisisd.imaging.formats import register

    register()
    folder.mkdir(parents=True, exist_ok=True)
    base = Image.open(make_photo(folder.parent / f"{folder.name}-source.jpg", 800, 600,
                                 seed=3))
    base.save(folder / "phone.heic", "HEIF")
    base.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(folder / "named-wrong.jpg", "HEIF")
    base.save(folder / tiff_name, "TIFF")


@contextmanager
def small_disk(path: Path, size_mb: int) -> Iterator[Path]:
    """A tmpfs of `size_mb` MiB mounted at `path`, unmounted after; the test is skipped
    where mounting is not allowed (not root)."""
    import pytest

    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs",
                              str(path)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root: " + mounted.stderr.decode().strip())
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 120,
            cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "anagnorisisd", *args], capture_output=True, text=True,
        timeout=timeout, env={**os.environ, **CLOSED_HUB, **(env or {})}, cwd=cwd or REPO,
    )


class Daemon:
    """`anagnorisisd serve` in a child process, talked to over HTTP on 127.0.0.1."""

    def __init__(self, config: Path, port: int, env: dict[str, str] | None = None,
                 token: str = "", wait_loaded: bool = True, python: str = sys.executable,
                 cwd: Path = REPO) -> None:
        self.config, self.port, self.token = config, port, token
        self.log = config.parent / "daemon.log"
        self.proc = subprocess.Popen(
            [python, "-m", "anagnorisisd", "serve", "--config", str(config)],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT,
            env={**os.environ, **CLOSED_HUB, **(env or {})}, cwd=cwd,
        )
        self.wait_loaded = wait_loaded
        try:
            wait_until(self._answers, timeout=60, interval=0.1)
        except AssertionError:
            self.kill()
            raise AssertionError("daemon did not come up:\n" + self.log.read_text()) from None

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError("daemon exited:\n" + self.log.read_text())
        try:
            status = self.request("GET", "/api/status")
        except (urllib.error.URLError, ConnectionError):
            return False
        # What a test asks next finds the library loaded (until then the daemon says 503).
        return bool(status.get("loaded", True)) or not self.wait_loaded

    def request(self, method: str, path: str, body: Any = None) -> Any:
        return self.call(method, path, body)[1]

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = (body if isinstance(body, bytes) else
                json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                     method=method)
        if data is not None and not isinstance(body, bytes):
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, json.load(response)

    def status(self) -> dict[str, Any]:
        return dict(self.request("GET", "/api/status"))

    def stop(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def http_error(daemon: Daemon, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """Status code and JSON body of a request expected to fail."""
    try:
        return daemon.call(method, path, body)
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body or b"null")
        except ValueError:
            return exc.code, body.decode(errors="replace")


class Worker:
    """tests/immich_ml_worker.py in its own process, so it can be killed like a real one."""

    def __init__(self, mode: str = "normal", delay: float = 0.0, port: int | None = None,
                 *extra: str) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.immich_ml_worker", "--port", str(self.port),
             "--mode", mode, "--delay", str(delay), *extra], cwd=REPO,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self.answers, timeout=60)

    def set_mode(self, mode: str) -> None:
        request = urllib.request.Request(f"{self.url}/mode?mode={mode}", method="POST")
        with urllib.request.urlopen(request, timeout=5):
            pass

    def answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/ping", timeout=2) as r:
                return bool(r.read() == b"pong")
        except OSError:
            return False

    def stats(self) -> dict[str, int]:
        with urllib.request.urlopen(self.url + "/stats", timeout=5) as r:
            return dict(json.loads(r.read()))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()


CHROMIUM_PATH = "/usr/bin/chromium"


@contextmanager
def chromium_page(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A page of Debian's Chromium, headless, driven by playwright; closed on the way out."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM_PATH, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()
