"""An index generation built in a child process, from the store, on disk.

Gathering every vector from the store and adding it to Annoy is a Python loop: at 100,000
photos it held the daemon's GIL for seconds, and every request waited for it (the soak's
6 s stall). And holding a million vectors in memory beside Annoy's own copy peaked at
4.6 GB. So the daemon asks a child process, at lower CPU priority, to read the store
(LMDB lets another process read while the daemon writes), stream each vector into an
Annoy index built on disk (``on_disk_build``: its memory is the page cache, not the
heap) and into the float16 file, and write the generation's files under temporary names.
The daemon then only renames them, writes ``current.json`` and maps the new generation,
while searches go on against the old one. The child exits with its parent (it watches
for being orphaned), and a build cancelled or crashed leaves only temporary files, which
the next build sweeps away.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

HASH_BYTES = 32
NICE = 10
TEMPORARY = (".ann.tmp", ".ids.tmp", ".f16.raw", ".f16.npy.tmp")


class BuildFailed(RuntimeError):
    """The child could not build the index; the message is its last words."""


def build_in_child(data_dir: Path, map_size: int, directory: Path, identity: str,
                   stage: str, number: int, n_trees: int) -> subprocess.Popen[str]:
    """Start the child; `finish` waits for it."""
    args = {"data_dir": str(data_dir), "map_size": map_size, "directory": str(directory),
            "identity": identity, "stage": stage, "number": number, "n_trees": n_trees}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    process = subprocess.Popen(
        [sys.executable, "-c", "from anagnorisisd.search.index_build import child; child()",
         json.dumps(args)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env)
    return process


def finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    """Wait for the child; its meta (number, dim, count), or BuildFailed with its reason."""
    out, err = process.communicate()
    if process.returncode != 0:
        last = (err or "").strip().splitlines()[-1:] or [f"exit code {process.returncode}"]
        raise BuildFailed(f"the index build failed: {last[0][:300]}")
    meta: dict[str, Any] = json.loads(out)
    return meta


def sweep(directory: Path) -> None:
    """Temporary files of a build that never finished."""
    for suffix in TEMPORARY:
        for leftover in directory.glob(f"*{suffix}"):
            leftover.unlink(missing_ok=True)


def child() -> None:
    """The child's side: arguments as JSON in argv, the generation's meta on stdout."""
    args = json.loads(sys.argv[1])
    with contextlib.suppress(AttributeError, OSError):  # not allowed: full priority, then
        os.nice(NICE)
    parent = os.getppid()
    threading.Thread(target=_orphan_watch, args=(parent,), daemon=True).start()
    meta = write_generation(Path(args["data_dir"]), int(args["map_size"]),
                            Path(args["directory"]), str(args["identity"]),
                            str(args["stage"]), int(args["number"]), int(args["n_trees"]))
    sys.stdout.write(json.dumps(meta))


def _orphan_watch(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:  # the daemon is gone: its index is nobody's
            os._exit(3)


def write_generation(data_dir: Path, map_size: int, directory: Path, identity: str,
                     stage: str, number: int, n_trees: int) -> dict[str, Any]:
    """Stream every live content's vector of `identity` into the generation's files (under
    temporary names, which `publish` renames). Memory: Annoy's pages and one vector."""
    from annoy import AnnoyIndex

    from anagnorisisd.store.database import Store

    store = Store(data_dir, map_size / (1 << 30), readonly=True)
    base = directory / str(number)
    annoy: Any = None
    dim = count = 0
    with open(f"{base}.f16.raw", "wb") as halves, open(f"{base}.ids.tmp", "wb") as ids:
        for content in store.live_hashes():
            output = store.get_result(content, stage)
            if not output or output.get("model") != identity:
                continue
            vector = np.frombuffer(output["embedding"], dtype=np.float16)
            if annoy is None:
                dim = len(vector)
                annoy = AnnoyIndex(dim, "angular")
                annoy.set_seed(42)
                annoy.on_disk_build(f"{base}.ann.tmp")
            if len(vector) != dim:
                continue  # not this model's shape after all: never mixed in
            annoy.add_item(count, vector.astype(np.float32))
            halves.write(vector.tobytes())
            ids.write(content)
            count += 1
    store.close()
    if annoy is None:  # nothing of this model yet: an empty generation all the same
        dim = 1
        annoy = AnnoyIndex(dim, "angular")
        annoy.on_disk_build(f"{base}.ann.tmp")
    annoy.build(n_trees, n_jobs=-1)
    annoy.unload()
    with open(f"{base}.f16.npy.tmp", "wb") as out, open(f"{base}.f16.raw", "rb") as raw:
        np.lib.format.write_array_header_1_0(out, {"descr": np.dtype(np.float16).str,
                                                   "fortran_order": False,
                                                   "shape": (count, dim)})
        shutil.copyfileobj(raw, out, 1 << 20)
    os.unlink(f"{base}.f16.raw")
    return {"number": number, "identity": identity, "dim": dim, "built_at": time.time(),
            "count": count}


def publish(directory: Path, meta: dict[str, Any]) -> None:
    """The generation's files under their own names, then current.json naming it."""
    base = directory / str(meta["number"])
    os.replace(f"{base}.ann.tmp", f"{base}.ann")
    os.replace(f"{base}.ids.tmp", f"{base}.ids")
    os.replace(f"{base}.f16.npy.tmp", f"{base}.f16.npy")
    tmp = directory / "current.json.tmp"
    tmp.write_text(json.dumps(meta))
    os.replace(tmp, directory / "current.json")
