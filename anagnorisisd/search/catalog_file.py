"""The catalog on disk: what a command with no daemon running reads instead of every
photo's records.

Reading 100,000 photos' records from the store and making an object for each took 2.5 s of
a 3.6 s cold `search`. This file holds the same rows as arrays (search.catalog_rows) and
the keywords the files carry, and is read in a few tens of milliseconds. It is written
after the catalog is read from the store and when the daemon stops, and it is stamped with
the store's identity and its last write transaction: any write to the store since (a scan,
a rating, a stage's result) makes it stale, and a stale or unreadable file is simply not
used. It is derived data: deleting it costs one slow start, nothing else.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from anagnorisisd.search.catalog_rows import (
    FLAGS,
    FLOATS,
    INTS,
    OPTIONAL_FLOATS,
    TEXTS,
    TWIN,
    Arrays,
)
from anagnorisisd.search.tags import Tagged
from anagnorisisd.store.records import pack, unpack

log = logging.getLogger(__name__)
FORMAT = 1
"""Raised whenever what the file holds changes shape; a file of another format is unused."""
STALE_S = 600.0
"""A half-written file older than this was left by a process that died writing it."""
ARRAYS = (*INTS, *FLOATS, *OPTIONAL_FLOATS, *FLAGS, *TEXTS, TWIN, "twin_len")


@dataclass
class Saved:
    ids: list[bytes]
    arrays: Arrays
    file_tags: dict[bytes, list[Tagged]]
    """Each tagged photo's keywords from its files (the TagBook's "file" group)."""


def write(path: Path, stamp: str, ids: list[bytes], arrays: Arrays,
          file_tags: dict[bytes, list[Tagged]]) -> bool:
    """Write atomically (a reader sees the old file or the new one, never half of one);
    False, logged, where it could not be written (a full disk, a read-only data folder)."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    header = pack({"format": FORMAT, "stamp": stamp, "rows": len(ids),
                   "tags": {content: [list(tag) for tag in tags]
                            for content, tags in file_tags.items()}})
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f"{path.name}.*.tmp"):  # left by a process killed
            with contextlib.suppress(OSError):                # while writing
                if time.time() - stale.stat().st_mtime > STALE_S:
                    stale.unlink()
        with open(tmp, "wb") as out:
            members: dict[str, Any] = {name: arrays[name] for name in ARRAYS}
            members.update(header=np.frombuffer(header, dtype=np.uint8),
                           ids=np.frombuffer(b"".join(ids), dtype=np.uint8),
                           id_len=np.asarray([len(i) for i in ids], dtype=np.int64))
            np.savez(out, **members)
        os.replace(tmp, path)
        return True
    except OSError as exc:
        log.warning("catalog file not written (%s): the next command reads the store", exc)
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
        return False


def read(path: Path, stamp: str) -> Saved | None:
    """The saved catalog if it was written for exactly this state of this store; None
    otherwise (no file, another store's, stale, another format, damaged)."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            header: dict[str, Any] = unpack(saved["header"].tobytes())
            if header.get("format") != FORMAT or header.get("stamp") != stamp:
                return None
            arrays = {name: saved[name] for name in ARRAYS}
            blob, lengths = saved["ids"].tobytes(), saved["id_len"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        log.warning("catalog file %s unreadable (%s): reading the store", path, exc)
        return None
    ends = np.cumsum(lengths).tolist()
    ids = [blob[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)]
    rows = int(header.get("rows", -1))
    if rows != len(ids) or any(len(column) != rows for column in arrays.values()):
        log.warning("catalog file %s does not add up: reading the store", path)
        return None
    tags = {bytes(content): [(str(name), str(source)) for name, source in tagged]
            for content, tagged in header.get("tags", {}).items()}
    return Saved(ids, arrays, tags)
