"""The content-hash stage: turns a path into the key everything else hangs off.

BLAKE3, because the hash is the identity of a photo's ratings and results
forever: it must be collision-resistant even against crafted files (xxh3 is
not), and BLAKE3 is still several GB/s per core, faster than the disk
delivers. The 256-bit digest is the store's key.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar

from blake3 import blake3

from anagnorisisd.imaging.budget import Limits
from anagnorisisd.imaging.video import VideoLimits, is_video
from anagnorisisd.ingest.safe_io import UnreadableFile, open_regular
from anagnorisisd.stage import Setting, Stage, StageContext, StageInput, StageOutput, StageSkip

CHUNK = 1 << 20


def hash_file(path: str) -> tuple[bytes, int, int]:
    """Hash one file; return (digest, size, mtime_ns) of exactly the bytes hashed.

    The stat is taken before and after reading so a file that changes under us
    is caught instead of being recorded with a hash of half-old, half-new bytes.
    """
    limit, setting = ((VideoLimits.max_bytes, "max_video_mb") if is_video(path)
                      else (Limits.max_file_bytes, "max_file_mb"))
    with open_regular(path, limit, buffering=0, setting=setting) as f:
        before = os.fstat(f.fileno())
        hasher = blake3()
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while n := f.readinto(buf):
            hasher.update(view[:n])
        after = os.fstat(f.fileno())
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        raise StageSkip(f"{path} changed while it was read")
    return hasher.digest(), after.st_size, after.st_mtime_ns


class HashStage(Stage):
    """BLAKE3 of the whole file."""

    name: ClassVar[str] = "hash"
    version = "blake3-1"
    keys_content: ClassVar[bool] = True
    config_schema: ClassVar[dict[str, Setting]] = {
        "workers": Setting(int, 2, "files hashed in parallel (BLAKE3 releases the GIL)", 1, 64),
    }

    def __init__(self, config: dict[str, Any], context: StageContext | None = None) -> None:
        super().__init__(config, context)
        self.workers = int(config["workers"])
        self.batch_size = 64

    def process(self, batch: list[StageInput]) -> list[StageOutput]:
        out = []
        for item in batch:
            try:
                digest, size, mtime_ns = hash_file(item.path)
            except UnreadableFile as exc:
                out.append(StageOutput.fail(str(exc)))
                continue
            except FileNotFoundError:
                out.append(StageOutput.later("the file vanished while it was read"))
                continue
            except OSError as exc:
                out.append(StageOutput.fail(f"cannot read: {exc.strerror or exc}"))
                continue
            out.append(StageOutput.ok({"hash": digest, "size": size, "mtime_ns": mtime_ns}))
        return out
