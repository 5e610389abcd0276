"""The shapes stored in LMDB, and their one msgpack encoding.

Keeping encode/decode next to the dataclasses means a field added here is a
field added everywhere; nothing else in the daemon touches raw msgpack for
these records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

PENDING = "pending"
DONE = "done"
FAILED = "failed"
FILE_STATES = (PENDING, DONE, FAILED)


def pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


def unpack(data: bytes | memoryview) -> Any:
    return msgpack.unpackb(data, raw=False)


@dataclass(frozen=True)
class FileRecord:
    """What we know about one path: its stat at last look, its content and its state.

    `gen` increases every time the file is seen to change, so work started on
    an older version of the file can recognise itself as stale and not
    overwrite newer state.
    """

    path: str
    size: int
    mtime_ns: int
    hash: bytes | None
    state: str
    gen: int
    fail_stage: str | None = None
    fail_reason: str | None = None

    def encode(self) -> bytes:
        return pack(
            {
                "s": self.size,
                "m": self.mtime_ns,
                "h": self.hash,
                "st": self.state,
                "g": self.gen,
                "fs": self.fail_stage,
                "fr": self.fail_reason,
            }
        )

    @classmethod
    def decode(cls, path: str, data: bytes | memoryview) -> FileRecord:
        d = unpack(data)
        return cls(path, d["s"], d["m"], d["h"], d["st"], d["g"], d.get("fs"), d.get("fr"))


@dataclass(frozen=True)
class Mark:
    """The small per-(content, stage) marker: which version ran and whether it failed.

    Marks are kept apart from results so that counting and re-queueing never
    has to read a thumbnail or an embedding.
    """

    version: str
    error: str | None = None

    def encode(self) -> bytes:
        return pack([self.version, self.error])

    @classmethod
    def decode(cls, data: bytes | memoryview) -> Mark:
        version, error = unpack(data)
        return cls(version, error)
