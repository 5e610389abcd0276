"""The daemon's index is built from the store in a child process, on disk: the same
generation an in-process build makes, only the active model's vectors, and a stop that
ends the child at once and leaves no half-written file behind."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest

from anagnorisisd.search import index_build
from anagnorisisd.search.index import VectorIndex
from anagnorisisd.search.index_build import BuildFailed
from anagnorisisd.store.database import Store
from tests.helpers import wait_until


def library(root: Path, count: int, dim: int = 64, other: int = 0,
            twins: tuple[int, int] | None = None) -> tuple[Store, list[bytes], np.ndarray]:
    """A store with `count` contents embedded by model "m" and `other` by model "old";
    `twins`, two items whose vectors are nearly the same."""
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((count + other, dim)).astype(np.float32)
    if twins is not None:
        vectors[twins[1]] = vectors[twins[0]] + 0.01 * rng.standard_normal(dim)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = Store(root / "data")
    contents = []
    with store.write() as w:
        for i in range(count + other):
            path = str(root / f"{i:06d}.jpg")
            content = i.to_bytes(4, "big") * 8
            w.seen(path, 1000 + i, 1_700_000_000_000_000_000 + i)
            record = w.file(path)
            w.set_hash(path, record.gen, content, 1000 + i, 1_700_000_000_000_000_000 + i)
            model = "m" if i < count else "old"
            w.put_result(content, "clip", f"2:{model}", {
                "model": model, "dim": dim,
                "embedding": vectors[i].astype(np.float16).tobytes()})
            w.finish(path, record.gen, None)
            if i < count:
                contents.append(content)
    return store, contents, vectors[:count]


def test_a_child_builds_what_an_in_process_build_makes(tmp_path: Path) -> None:
    store, contents, vectors = library(tmp_path, 400, other=50)
    child = VectorIndex(tmp_path / "child", exact_below=0)
    built = child.build_from_store("m", store.path.parent, int(store.env.info()["map_size"]),
                                   "clip")
    assert built.size == 400 and built.identity == "m"  # the old model's vectors left out
    assert sorted(built.position) == sorted(contents)
    here = VectorIndex(tmp_path / "here", exact_below=0)
    here.build("m", contents, vectors.astype(np.float16).astype(np.float32))
    for n in (0, 7, 399):
        found = child.search(vectors[n], 5)
        assert found[0][0] == contents[n] and found[0][1] > 0.99
        assert [c for c, _ in found] == [c for c, _ in here.search(vectors[n], 5)]
    assert not list((tmp_path / "child").glob("*.tmp")) and not list(
        (tmp_path / "child").glob("*.raw"))
    exact = VectorIndex(tmp_path / "child")  # small: loaded as a matrix from the f16 file
    assert exact.load("m") and exact.current is not None and exact.current.matrix is not None
    assert exact.current.matrix.shape == (400, 64)
    store.close()


def test_a_stop_ends_the_child_and_keeps_the_index(tmp_path: Path) -> None:
    store, _, _ = library(tmp_path, 20_000, dim=512)
    index = VectorIndex(tmp_path / "index", n_trees=200)
    args = ("m", store.path.parent, int(store.env.info()["map_size"]), "clip")
    outcome: list[BaseException | None] = []

    def build() -> None:
        try:
            index.build_from_store(*args)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=build)
    worker.start()
    wait_until(lambda: index._child is not None, timeout=30)
    index.stop_builds()
    worker.join(30)
    assert not worker.is_alive()
    assert isinstance(outcome[0], BuildFailed) and "stopping" in str(outcome[0])
    assert not (tmp_path / "index" / "current.json").exists() and index.current is None
    assert [p.name for p in (tmp_path / "index").iterdir()] == []  # nothing half-written
    with pytest.raises(BuildFailed, match="stopping"):  # and none starts again
        index.build_from_store(*args)
    store.close()


def test_an_index_built_before_anything_was_embedded_takes_fresh_vectors(
        tmp_path: Path) -> None:
    """The first build can find nothing (the model is new, nothing embedded yet): such an
    index has no dimension of its own, and the vectors embedded after it are scored all
    the same (a concept trained then got a 500 from a concatenation)."""
    store, _, _ = library(tmp_path, 0, other=5)
    index = VectorIndex(tmp_path / "index", exact_below=0)
    built = index.build_from_store("m", store.path.parent, int(store.env.info()["map_size"]),
                                   "clip")
    assert built.size == 0
    vector = np.ones(64, dtype=np.float32) / 8.0
    index.add_fresh(b"f" * 32, vector)
    keys, matrix = index.half_vectors()
    assert keys == [b"f" * 32] and matrix.shape == (1, 64)
    store.close()


def test_a_sample_is_the_chosen_items_vectors_indexed_or_fresh(tmp_path: Path) -> None:
    """Drawn in one gather from the mapped file plus the fresh items, in the items' order."""
    store, contents, vectors = library(tmp_path, 300)
    index = VectorIndex(tmp_path / "index", exact_below=0)
    index.build_from_store("m", store.path.parent, int(store.env.info()["map_size"]), "clip")
    extra = np.eye(64, dtype=np.float32)[:5]
    for i, vector in enumerate(extra):
        index.add_fresh(b"fresh" + bytes([i]) * 27, vector)
    stored = vectors.astype(np.float16).astype(np.float32)
    current = index.current
    assert current is not None
    everything = np.concatenate([np.stack([stored[contents.index(current.content(i))]
                                           for i in range(current.size)]), extra])
    for seed in (0, 3):
        rows = np.sort(np.random.default_rng(seed).choice(305, 40, replace=False))
        assert np.allclose(index.sample(40, seed), everything[rows], atol=1e-3)
    assert index.sample(1000).shape == (305, 64)  # all of them, when fewer than asked
    store.close()


def test_a_library_larger_than_a_shard_is_built_in_shards_and_searched_as_one(
        tmp_path: Path) -> None:
    """The build's memory is one shard's Annoy file: a library over the budget is split,
    and every search, neighbour list, near-duplicate pair and vector reads across shards
    as from one index (here 2,000 items, 700 a shard: three)."""
    store, contents, vectors = library(tmp_path, 2000, twins=(5, 1990))
    per_item = 12 + 4 * 64 + 16 * 8
    index = VectorIndex(tmp_path / "index", n_trees=8, exact_below=0,
                        shard_bytes=per_item * 700)
    built = index.build_from_store("m", store.path.parent, int(store.env.info()["map_size"]),
                                   "clip")
    assert len(built.shards) == 3 and built.starts == [0, 667, 1334]
    folder = tmp_path / "index"
    assert {p.name for p in folder.glob("*.ann")} == {
        f"{built.number}.ann", f"{built.number}.1.ann", f"{built.number}.2.ann"}
    stored = vectors.astype(np.float16).astype(np.float32)
    exact = stored @ stored.T
    for item in (3, 700, 1500, 1999):
        row = contents.index(built.content(item))
        assert np.allclose(index.vector_of(built.content(item)), stored[row])
        found = [contents.index(c) for c, _ in index.search(stored[row], 10)]
        assert found[0] == row
        assert len(set(found) & set(np.argsort(-exact[row])[:10].tolist())) >= 9
        near, _ = built.neighbours(item, 10, 5000)  # its own shard's and the others'
        best = set(np.argsort(-exact[row])[:10].tolist())
        assert near[0] == item and len({contents.index(built.content(n)) for n in near}
                                       & best) >= 9
    pairs = {frozenset(pair) for pair in index.close_pairs(0.99)}
    assert frozenset((contents[5], contents[1990])) in pairs  # in different shards
    assert np.allclose(index.all_vectors()[1][0], stored[contents.index(built.content(0))])
    reread = VectorIndex(folder, exact_below=0)
    assert reread.load("m") and reread.current is not None
    assert [c for c, _ in reread.search(stored[9], 5)] == [c for c, _ in index.search(
        stored[9], 5)]
    index.shard_bytes = per_item * 5000  # the next generation in one shard: the old go
    again = index.build_from_store("m", store.path.parent, int(store.env.info()["map_size"]),
                                   "clip")
    assert len(again.shards) == 1
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*(f"{again.number}{suffix}" for suffix in (".ann", ".ids", ".f16.npy")),
         "current.json"])
    store.close()


def test_a_generation_whose_shards_disagree_with_its_ids_is_rebuilt(tmp_path: Path) -> None:
    """A shard lost (a disk error, a hand's cleanup) makes the generation unusable, not a
    search over the rest with ids that point at the wrong photos; a generation written
    before shards (no count in current.json) loads as one."""
    store, _, _ = library(tmp_path, 300)
    per_item = 12 + 4 * 64 + 16 * 8
    folder = tmp_path / "index"
    built = VectorIndex(folder, n_trees=4, exact_below=0, shard_bytes=per_item * 100
                        ).build_from_store("m", store.path.parent,
                                           int(store.env.info()["map_size"]), "clip")
    assert len(built.shards) == 3
    (folder / f"{built.number}.2.ann").unlink()
    assert not VectorIndex(folder, exact_below=0).load("m")
    single = VectorIndex(folder, n_trees=4, exact_below=0)
    single.build_from_store("m", store.path.parent, int(store.env.info()["map_size"]), "clip")
    meta = json.loads((folder / "current.json").read_text())
    del meta["shards"]
    (folder / "current.json").write_text(json.dumps(meta))
    old = VectorIndex(folder, exact_below=0)
    assert old.load("m") and old.current is not None and old.current.size == 300
    store.close()


def test_the_store_is_read_in_batches_each_content_once(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The build reads the store BATCH contents an opening (so its pages leave the resident
    set): every vector of the model once, in key order, none of another model's, whether a
    batch ends on a content of the model or not."""
    store, contents, vectors = library(tmp_path, 300, other=40)
    map_size = int(store.env.info()["map_size"])
    store.close()  # LMDB opens an environment once a process: the build's child opens it
    whole = list(index_build._vectors(store.path.parent, map_size, "m", "clip"))
    monkeypatch.setattr(index_build, "BATCH", 64)
    batched = list(index_build._vectors(store.path.parent, map_size, "m", "clip"))
    assert [c for c, _ in batched] == [c for c, _ in whole] == sorted(contents)
    for content, vector in batched:
        assert np.array_equal(vector, vectors[contents.index(content)].astype(np.float16))
