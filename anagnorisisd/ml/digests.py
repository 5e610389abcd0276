"""Digests of large model files, remembered between processes.

A model's identity is a digest of its 350 MB image graph; a command line that runs one
query cannot afford to read the graph to learn it. The digest is kept in a small JSON file
under the data directory, keyed by the files' paths, sizes and modification times: a
changed file (new weights under the same name) is read again.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

MAX_ENTRIES = 64


def _key(files: list[Path]) -> str | None:
    parts = []
    for path in files:
        try:
            st = path.stat()
        except OSError:
            return None
        parts.append(f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}")
    return "|".join(parts)


def remembered(store: Path, files: list[Path], compute: Callable[[], str]) -> str:
    """`compute()`, or what it gave for these files as they are now."""
    key = _key(files)
    try:
        known = json.loads(store.read_text())
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    if key is not None and isinstance(known.get(key), str):
        return str(known[key])
    value = compute()
    if key is None:
        return value
    known[key] = value
    with contextlib.suppress(OSError):  # a read-only data directory computes each time
        store.parent.mkdir(parents=True, exist_ok=True)
        kept = dict(list(known.items())[-MAX_ENTRIES:])
        handle, partial = tempfile.mkstemp(prefix=".digests-", dir=store.parent)
        with os.fdopen(handle, "w") as f:
            json.dump(kept, f)
        os.replace(partial, store)
    return value
