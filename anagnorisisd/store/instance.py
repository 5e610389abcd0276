"""One writer per data directory: a lock, and a note saying who holds it and where it listens.

Two daemons on one store would each keep their own counters, index and
watcher, and an ``index`` run beside a daemon would leave the daemon's view
stale. So ``serve``, ``index`` and every offline command that writes take an
exclusive lock on ``DATA_DIR/daemon.lock`` (filelock: flock on Linux, released
by the kernel when the process dies, so kill -9 never leaves a stale lock).
The holder writes ``DATA_DIR/daemon.json`` with its PID, role and address; the
CLI reads it to find the running daemon, instead of guessing from a port.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

log = logging.getLogger(__name__)


class InstanceBusy(Exception):
    """Another process holds the data directory; the message names it."""


class InstanceLock:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.lock_path = self.data_dir / "daemon.lock"
        self.info_path = self.data_dir / "daemon.json"
        self._lock: FileLock | None = None

    def acquire(self, role: str, host: str | None = None, port: int | None = None) -> None:
        """Take the lock or raise InstanceBusy naming the holder. OSError if the data
        directory cannot be created."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(self.lock_path), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise InstanceBusy(describe_holder(self.data_dir)) from None
        self._lock = lock
        self.update(role=role, host=host, port=port)

    def update(self, **fields: Any) -> None:
        """Rewrite the note (say, once the server listens); atomically, so readers never see
        half of it."""
        info = read_info(self.data_dir) if self.info_path.exists() else {}
        info.update({k: v for k, v in fields.items() if v is not None})
        info.update(pid=os.getpid(), started_at=info.get("started_at", time.time()))
        tmp = self.info_path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(info))
            tmp.replace(self.info_path)
        except OSError as exc:  # a full disk: the lock holds all the same; commands that
            # look for the daemon then find it at the configured address
            tmp.unlink(missing_ok=True)
            log.warning("could not write %s: %s", self.info_path, exc.strerror or exc)

    def release(self) -> None:
        if self._lock is not None:
            self.info_path.unlink(missing_ok=True)
            self._lock.release()
            self._lock = None


def read_info(data_dir: Path) -> dict[str, Any]:
    try:
        data = json.loads((Path(data_dir) / "daemon.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def holder(data_dir: Path) -> dict[str, Any] | None:
    """Who holds the data directory now (its note), or None if nobody does.

    The note alone proves nothing (a killed process leaves it behind); the lock is
    tried, and given back at once if it was free."""
    lock_path = Path(data_dir) / "daemon.lock"
    if not lock_path.exists():
        return None
    lock = FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return read_info(data_dir) or {"pid": None}
    except OSError:
        return None
    lock.release()
    return None


def describe_holder(data_dir: Path) -> str:
    info = read_info(data_dir)
    who = f"PID {info['pid']}" if info.get("pid") else "another process"
    what = info.get("role", "anagnorisisd")
    where = (f", serving http://{info['host']}:{info['port']}/" if info.get("port") else "")
    return f"{what} ({who}{where}) is already using {data_dir}; stop it first"
