"""The CLI's way to talk to a running daemon: one small HTTP client, None when none answers.

The daemon is found through the note it leaves in its data directory (instance.py),
never by trying the configured port: whatever else listens there is not asked.
"""

from __future__ import annotations

import json
import time
from typing import Any

from anagnorisisd.config import Config
from anagnorisisd.store.instance import holder


class DaemonError(Exception):
    """The daemon answered with an error; the message is its own one-line reason."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def call(config: Config, method: str, path: str, body: Any = None,
         timeout: float = 30) -> Any:
    """JSON in, JSON out. None if no daemon listens; DaemonError for a 4xx/5xx answer."""
    running = holder(config.data_dir)
    if running is None or running.get("role") != "serve" or not running.get("port"):
        return None
    import urllib.error  # only with a daemon to ask: 50 ms of a cold query otherwise
    import urllib.request

    host = str(running.get("host") or "127.0.0.1")
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    if ":" in host:
        host = f"[{host}]"
    raw = isinstance(body, bytes)  # a file sent as it is (a GPX track), else JSON
    data = body if raw else json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://{host}:{running['port']}{path}", data=data,
                                     method=method)
    if data is not None:
        request.add_header("Content-Type", "application/octet-stream" if raw
                           else "application/json")
    if config.server.token:
        request.add_header("Authorization", f"Bearer {config.server.token}")
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            wait = exc.headers.get("Retry-After") if exc.code == 503 else None
            if wait is not None and wait.isdigit() and time.monotonic() + int(wait) < deadline:
                time.sleep(int(wait))  # the daemon is still loading after a start
                continue
            try:
                message = json.load(exc).get("error", str(exc))
            except ValueError:
                message = str(exc)
            raise DaemonError(message, exc.code) from None
        except (OSError, urllib.error.URLError, ValueError):
            return None
