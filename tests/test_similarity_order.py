"""Past `inline` photos the similarity order is worked out on a thread of its own: asking
never waits for it, and once ready it is the index's order, every row once."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from anagnorisisd.search.index import VectorIndex
from anagnorisisd.search.similarity import SimilarityOrder
from tests.helpers import wait_until


def test_a_large_librarys_order_is_worked_out_aside_then_given(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((300, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [i.to_bytes(4, "big") * 8 for i in range(300)]
    index = VectorIndex(tmp_path / "index", exact_below=0)
    index.build("m", ids, vectors)
    assert SimilarityOrder(index).ready()  # 300 photos: worked out for whoever asks
    aside = SimilarityOrder(index, inline=0)
    assert not aside.ready() and aside.count() == 300  # a thread works it out meanwhile
    wait_until(aside.ready, timeout=60)
    columns = type("Columns", (), {"position": {c: i for i, c in enumerate(ids)}})()
    rows = np.arange(300, dtype=np.intp)
    ordered = aside.positions(columns, rows, descending=True)  # type: ignore[arg-type]
    assert sorted(ordered.tolist()) == list(range(300))
    assert [ids[i] for i in ordered] == index.similarity_order()
    assert aside.positions(columns, rows, descending=False).tolist() == ordered.tolist()[::-1]
