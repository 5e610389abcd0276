"""Give decoded images' memory back to the system as soon as it is freed (glibc only).

Decoders on two or more threads each get a malloc arena of their own, and glibc
keeps what they free for reuse: indexing Pillow's test corpus with two CLIP
decoders peaked at 3.6 GB where one decoder peaked at 1.2 GB
(bench/bench_corpus.py). A fixed mmap threshold serves every buffer of 1 MiB or
more (any image worth counting) from mmap, which is unmapped on free, and two
arenas bound what small allocations can scatter: 1.2 GB again, with two decoders.

glibc reads these settings when the process starts, before any Python runs (numpy
and onnxruntime start threads, and so arenas, at import), so the long-running
commands re-execute themselves once with them set; the systemd unit sets them
itself. ``mallopt`` later in a process was measured and only half works.
"""

from __future__ import annotations

import os
import sys

SETTINGS = {"MALLOC_MMAP_THRESHOLD_": str(1 << 20), "MALLOC_ARENA_MAX": "2"}


def with_tamed_malloc(argv: list[str]) -> None:
    """Re-execute this command with the settings, unless they are there (or this is not
    Linux, where the variables mean nothing). Same PID, same arguments."""
    if not sys.platform.startswith("linux") or all(k in os.environ for k in SETTINGS):
        return
    os.environ.update({k: os.environ.get(k, v) for k, v in SETTINGS.items()})
    sys.stdout.flush()
    sys.stderr.flush()
    # -P: the current folder is not put first on the import path, so run from inside a
    # clone of the repository the installed package is imported, not the source tree there.
    os.execv(sys.executable, [sys.executable, "-P", "-m", "anagnorisisd", *argv])
