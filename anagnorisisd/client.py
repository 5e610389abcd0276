"""The CLI's way to talk to a running daemon: one small HTTP client, None when none answers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from anagnorisisd.config import Config


class DaemonError(Exception):
    """The daemon answered with an error; the message is its own one-line reason."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def call(config: Config, method: str, path: str, body: Any = None,
         timeout: float = 30) -> Any:
    """JSON in, JSON out. None if no daemon listens; DaemonError for a 4xx/5xx answer."""
    server = config.server
    host = "127.0.0.1" if server.host in ("0.0.0.0", "") else server.host
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://{host}:{server.port}{path}", data=data,
                                     method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if server.token:
        request.add_header("Authorization", f"Bearer {server.token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        try:
            message = json.load(exc).get("error", str(exc))
        except ValueError:
            message = str(exc)
        raise DaemonError(message, exc.code) from None
    except (OSError, urllib.error.URLError, ValueError):
        return None
