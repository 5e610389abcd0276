"""The fresh items' matrix grows in place: what a search holds never changes under it, and
every read answers as a matrix stacked afresh from the items would."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anagnorisisd.search.index import VectorIndex


def unit(rng: np.random.Generator, dim: int = 16) -> np.ndarray:
    v = rng.standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def test_fresh_items_read_as_if_stacked_afresh_through_adds_changes_and_removals(
        tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    index = VectorIndex(tmp_path / "index")
    held: list[tuple[list[bytes], np.ndarray, dict[bytes, np.ndarray]]] = []
    for step in range(1500):
        content = int(rng.integers(0, 600)).to_bytes(32, "big")
        if step % 7 == 3:
            index.discard(content)
        else:
            index.add_fresh(content, unit(rng))  # new, or a new vector for a known one
        if step % 50 == 0:
            keys, matrix = index.fresh_matrix()
            held.append((keys, matrix, dict(index.fresh)))
            assert sorted(keys) == sorted(index.fresh)
            assert np.array_equal(matrix, np.stack([index.fresh[k] for k in keys]))
    for keys, matrix, then in held:  # rows handed out were never written again
        assert np.array_equal(matrix, np.stack([then[k] for k in keys]))
    query = unit(rng)
    brute = sorted(((c, float(v @ query)) for c, v in index.fresh.items()),
                   key=lambda pair: -pair[1])[:10]
    found = index.search(query, 10)
    assert [c for c, _ in found] == [c for c, _ in brute]
    assert np.allclose([s for _, s in found], [s for _, s in brute], atol=1e-6)
