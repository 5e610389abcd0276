"""An index generation built in a child process, from the store, on disk.

Gathering every vector from the store and adding it to Annoy is a Python loop: at 100,000
photos it held the daemon's GIL for seconds, and every request waited for it (the soak's
6 s stall). And holding a million vectors in memory beside Annoy's own copy peaked at
4.6 GB. So the daemon asks a child process, at lower CPU priority, to read the store
(LMDB lets another process read while the daemon writes) into the generation's float16
file, close it, and build the Annoy trees from that file on disk, one shard at a time
(search/index_files.py: the build's memory is one shard's pages, not the library's),
under temporary names. The daemon then only renames them, writes ``current.json`` and
maps the new generation, while searches go on against the old one. The child exits with
its parent (it watches for being orphaned), and a build cancelled or crashed leaves only
temporary files, which the next build sweeps away."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.search.index_files import SHARD_BYTES, write_generation_files

NICE = 10
BATCH = 50_000


class BuildFailed(RuntimeError):
    """The child could not build the index; the message is its last words."""


def build_in_child(data_dir: Path, map_size: int, directory: Path, identity: str,
                   stage: str, number: int, n_trees: int, shard_bytes: int = SHARD_BYTES
                   ) -> subprocess.Popen[str]:
    """Start the child; `finish` waits for it."""
    args = {"data_dir": str(data_dir), "map_size": map_size, "directory": str(directory),
            "identity": identity, "stage": stage, "number": number, "n_trees": n_trees,
            "shard_bytes": shard_bytes}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    process = subprocess.Popen(
        [sys.executable, "-c", "from anagnorisisd.search.index_build import child; child()",
         json.dumps(args)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env)
    return process


def finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    """Wait for the child; its meta (number, dim, count, shards), or BuildFailed with its reason."""
    out, err = process.communicate()
    if process.returncode != 0:
        last = (err or "").strip().splitlines()[-1:] or [f"exit code {process.returncode}"]
        raise BuildFailed(f"the index build failed: {last[0][:300]}")
    meta: dict[str, Any] = json.loads(out)
    return meta


def child() -> None:
    """The child's side: arguments as JSON in argv, the generation's meta on stdout."""
    args = json.loads(sys.argv[1])
    with contextlib.suppress(AttributeError, OSError):  # not allowed: full priority, then
        os.nice(NICE)
    parent = os.getppid()
    threading.Thread(target=_orphan_watch, args=(parent,), daemon=True).start()
    meta = write_generation(Path(args["data_dir"]), int(args["map_size"]),
                            Path(args["directory"]), str(args["identity"]),
                            str(args["stage"]), int(args["number"]), int(args["n_trees"]),
                            int(args["shard_bytes"]))
    sys.stdout.write(json.dumps(meta))


def _orphan_watch(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:  # the daemon is gone: its index is nobody's
            os._exit(3)


def write_generation(data_dir: Path, map_size: int, directory: Path, identity: str,
                     stage: str, number: int, n_trees: int, shard_bytes: int = SHARD_BYTES
                     ) -> dict[str, Any]:
    """Stream every live content's vector of `identity` into the generation's files (under
    temporary names, which `publish` renames). Memory: one Annoy shard's pages."""
    files = write_generation_files(directory / str(number),
                                   _vectors(data_dir, map_size, identity, stage), n_trees,
                                   shard_bytes)
    return {"number": number, "identity": identity, "built_at": time.time(), **files}


def _vectors(data_dir: Path, map_size: int, identity: str, stage: str
             ) -> Iterator[tuple[bytes, NDArray[np.float16]]]:
    """Each live content's vector from `identity`, in the store's order, BATCH contents an
    opening of the store: the pages a mapped store was read through stay in the resident
    set until it is closed (2.3 GB of them at 1,000,000 photos, read in one pass). A
    content added meanwhile may be missed: it stays fresh in the daemon until the next."""
    from anagnorisisd.store.database import Store

    after: bytes | None = None
    while True:
        store = Store(data_dir, map_size / (1 << 30), readonly=True)
        try:
            with store.snapshot() as snapshot:
                contents = list(itertools.islice(snapshot.live_hashes(after), BATCH))
                found = [(content, output) for content in contents
                         if (output := snapshot.get_result(content, stage))
                         and output.get("model") == identity]
        finally:
            store.close()
        for content, output in found:
            yield content, np.frombuffer(output["embedding"], dtype=np.float16)
        if len(contents) < BATCH:
            return
        after = contents[-1]
