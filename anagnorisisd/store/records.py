"""The shapes stored in LMDB, and their one msgpack encoding.

Keeping encode/decode next to the dataclasses means a field added here is a
field added everywhere; nothing else in the daemon touches raw msgpack for
these records.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import msgpack

PENDING = "pending"
DONE = "done"
FAILED = "failed"


def pack(value: Any) -> bytes:
    """msgpack, with file names that are not valid UTF-8 kept byte for byte.

    Python spells such names with lone surrogates (PEP 383); ``surrogateescape``
    turns them back into the original bytes, so no name the filesystem allows
    is lost or refused.
    """
    return msgpack.packb(  # type: ignore[no-any-return]
        value, use_bin_type=True, unicode_errors="surrogateescape")


def packed_or_reason(value: Any) -> tuple[bytes | None, str | None]:
    """The value packed, or why it cannot be stored (a lone surrogate such as "\\ud800"
    in a worker's text, an integer too large for msgpack, a type it does not know): the
    caller fails that one photo with the reason instead of failing its whole batch, and
    the bytes are packed once, before any write transaction holds the store."""
    try:
        return pack(value), None
    except (UnicodeError, TypeError, ValueError, OverflowError) as exc:
        return None, f"{type(exc).__name__}: {str(exc)[:160]}"


def unpack(data: bytes | memoryview) -> Any:
    return msgpack.unpackb(data, raw=False, unicode_errors="surrogateescape")


def path_key(path: str) -> bytes:
    """The store key of a path: its bytes on disk. For a valid UTF-8 name this is exactly
    ``path.encode()``, so stores written before non-UTF-8 names were supported read the same."""
    return os.fsencode(path)


def key_path(key: bytes | memoryview) -> str:
    return os.fsdecode(bytes(key))


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
    sidecar: tuple[int, ...] | None = None
    """The size and modification time of each of its XMP sidecars, as last seen
    (ingest.sidecars.fingerprint); None where never looked at (a store older than this)."""

    def encode(self) -> bytes:
        record: dict[str, Any] = {"s": self.size, "m": self.mtime_ns, "h": self.hash,
                                  "st": self.state, "g": self.gen, "fs": self.fail_stage,
                                  "fr": self.fail_reason}
        if self.sidecar is not None:
            record["x"] = list(self.sidecar)
        return pack(record)

    @classmethod
    def decode(cls, path: str, data: bytes | memoryview) -> FileRecord:
        d = unpack(data)
        sidecar = d.get("x")
        return cls(path, d["s"], d["m"], d["h"], d["st"], d["g"], d.get("fs"), d.get("fr"),
                   tuple(sidecar) if sidecar is not None else None)


@dataclass(frozen=True)
class Mark:
    """The small per-(content, stage) marker: which version ran and whether it failed.

    Marks are kept apart from results so that counting and re-queueing never
    has to read a thumbnail or an embedding.
    """

    version: str
    error: str | None = None
    blocked: str | None = None
    """The stage whose failure kept this one from running on the content (a file that
    cannot be read has no faces to find): neither done nor pending, nor failed here."""

    def encode(self) -> bytes:
        return pack([self.version, self.error] + ([self.blocked] if self.blocked else []))

    @classmethod
    def decode(cls, data: bytes | memoryview) -> Mark:
        version, error, *rest = unpack(data)
        return cls(version, error, rest[0] if rest else None)
