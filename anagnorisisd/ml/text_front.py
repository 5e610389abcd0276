"""The text graph without its token table, for a query that has to start fast.

A CLIP text tower's first node looks each token up in a table of 49,408 rows: for
ViT-B-32 that table is 101 MB of the graph's 254 MB, and a query reads a dozen of its
rows. Loading a session reads and copies every weight, so a one-off query from the
command line spent a third of its model time on rows it never used. The daemon therefore
writes, once per text graph, a copy whose table lookup is an input, and the table beside
it as a NumPy file the query maps (only the pages of its tokens are read): the same
numbers go in, the same embedding comes out (tests/test_text_front.py), and the session
loads in two thirds of the time. The copy's weights are kept beside its graph (ONNX
external data), which ONNX Runtime maps rather than parses: a further third off its load.

The copy lives under the data directory, keyed by the graph's path, size and
modification time; a graph with no such table, or a small one, is left whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

log = logging.getLogger(__name__)
MIN_TABLE_BYTES = 16 << 20
"""Below this, splitting the table out saves too little to be worth a second file."""
LAYOUT = 2
"""Of the copy's folder: 2 keeps the weights in WEIGHTS (1 kept them in the graph)."""
WEIGHTS = "weights.bin"
STALE_S = 600.0
"""A half-written copy older than this was left by a process that died writing it."""


@dataclass(frozen=True)
class TextFront:
    """A split text graph: `graph` takes the token ids and `input_name`, the rows of
    `table` the ids point at."""

    graph: Path
    table_path: Path
    input_name: str

    def lookup(self, ids: NDArray[np.integer]) -> NDArray[np.float32]:
        table = np.load(self.table_path, mmap_mode="r")
        rows: NDArray[np.float32] = np.ascontiguousarray(table[ids], dtype=np.float32)
        return rows


def _key(graph: Path) -> str | None:
    try:
        st = graph.stat()
    except OSError:
        return None
    source = f"{LAYOUT}\0{graph.resolve()}\0{st.st_size}\0{st.st_mtime_ns}"
    return hashlib.blake2b(source.encode(), digest_size=12).hexdigest()


def _about(folder: Path) -> dict[str, Any] | None:
    try:
        about = json.loads((folder / "front.json").read_text())
    except (OSError, ValueError):
        return None
    return about if isinstance(about, dict) else None


def cached(graph: Path, cache_root: Path) -> TextFront | None:
    """The split copy of `graph` made earlier, if it is there and still matches the graph."""
    key = _key(graph)
    if key is None:
        return None
    about = _about(cache_root / key)
    if not about or not about.get("input"):
        return None
    folder = cache_root / key
    front = TextFront(folder / "model.onnx", folder / "token_table.npy", str(about["input"]))
    whole = front.graph.is_file() and front.table_path.is_file() and (folder / WEIGHTS).is_file()
    return front if whole else None


def prepare(graph: Path, cache_root: Path) -> TextFront | None:
    """Make the split copy of `graph` (once; a few seconds for ViT-B-32) and return it; None
    for a graph without a large token table, or when it cannot be written."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    found = cached(graph, cache_root)
    key = _key(graph)
    if found is not None or key is None or _about(cache_root / key) is not None:
        return found  # made, or looked at before and found whole
    model = onnx.load(str(graph))
    tables = {init.name: init for init in model.graph.initializer if len(init.dims) == 2}
    lookup = next((node for node in model.graph.node if node.op_type == "Gather"
                   and node.input[0] in tables
                   and 4 * int(np.prod(tables[node.input[0]].dims)) >= MIN_TABLE_BYTES), None)
    rows = numpy_helper.to_array(tables[lookup.input[0]]) if lookup is not None else None
    users = [node for node in model.graph.node if lookup.input[0] in node.input] \
        if lookup is not None else []
    # the table used again (tied output weights), or none worth splitting: left whole
    if lookup is None or rows is None or rows.dtype != np.float32 or len(users) != 1:
        _write_about(cache_root / key, None, graph)
        return None
    table = tables[lookup.input[0]]
    name = lookup.output[0]
    model.graph.node.remove(lookup)
    model.graph.initializer.remove(table)
    model.graph.input.append(helper.make_tensor_value_info(
        name, TensorProto.FLOAT, ["batch", "tokens", int(rows.shape[1])]))
    cache_root.mkdir(parents=True, exist_ok=True)
    for stale in cache_root.glob(".front-*"):  # a process killed while writing one
        with contextlib.suppress(OSError):
            if time.time() - stale.stat().st_mtime > STALE_S:
                shutil.rmtree(stale)
    partial = Path(tempfile.mkdtemp(prefix=".front-", dir=cache_root))
    try:
        onnx.save(model, str(partial / "model.onnx"), save_as_external_data=True,
                  all_tensors_to_one_file=True, location=WEIGHTS, size_threshold=1024)
        np.save(partial / "token_table.npy", rows)
        _write_about(partial, name, graph)
        os.replace(partial, cache_root / key)
        _forget_older(cache_root, key, graph)
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        made = cached(graph, cache_root)  # another process made it first
        if made is None:
            log.warning("the query's text graph could not be written (%s); the whole graph "
                        "is used", exc.strerror or exc)
        return made
    return cached(graph, cache_root)


def _forget_older(cache_root: Path, key: str, graph: Path) -> None:
    """Copies of the same graph in an older layout, or of its older versions: 150 MB
    each, never read again."""
    for folder in cache_root.iterdir():
        about = _about(folder) if folder.name != key else None
        if about is not None and about.get("source") == str(graph):
            shutil.rmtree(folder, ignore_errors=True)


def _write_about(folder: Path, input_name: str | None, graph: Path) -> None:
    """What the folder holds: the split graph's table input, or None for a graph that is
    better left whole (so it is not read again at every start)."""
    with contextlib.suppress(OSError):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "front.json").write_text(json.dumps({"input": input_name,
                                                       "source": str(graph)}))
