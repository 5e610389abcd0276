"""Finding photos by the words in them, alone (text:"…", has:text) or with meaning.

A free-text query asks two questions at once: which photos show it (CLIP's cosine) and
which say it (the words read in them). Their scores do not compare (a cosine of 0.3 and a
BM25 of -7 share no unit), so the two rankings are fused by rank, not by score: reciprocal
rank fusion, each photo scoring the sum of 1 / (RRF_K + its rank) in each list it is in.
It was chosen because it needs no calibration between the two scores and has no weight to
fit on data this project does not have; a measured comparison with a weighted sum of
normalised scores is not made yet (tests/test_text_search.py checks that free text finds a
photo by its words).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.search.catalog import Columns
from anagnorisisd.search.query import Query
from anagnorisisd.search.words import WordIndex, phrase_query

RRF_K = 60
"""The constant of Cormack, Clarke and Büttcher's paper (SIGIR 2009), where it was chosen
on data and found to matter little between 10 and 100."""


def words_mask(words: WordIndex | None, query: Query, columns: Columns) -> NDArray[np.bool_]:
    """The rows that pass every text: and has:text filter (all rows when there are none)."""
    mask = np.ones(len(columns.ids), dtype=bool)
    for f in query.filters:
        if f.field not in ("text", "has_text"):
            continue
        passing = np.zeros(len(columns.ids), dtype=bool)
        if words is not None:
            rows, with_text = words.rows_in(columns)
            if f.field == "has_text":
                passing[with_text] = True
            elif (match := phrase_query(str(f.value))) is not None:
                docs = words.matching(match)
                found = rows[docs[docs < len(rows)]]
                passing[found[found >= 0]] = True
        mask &= passing
    return mask


def word_ranking(words: WordIndex | None, text: str, columns: Columns,
                 limit: int) -> list[bytes]:
    """The `limit` best photos whose words match a free-text query, best first by BM25,
    among the photos of the catalog: as many as the vector index is asked for, so that
    neither list outweighs the other by its length."""
    if words is None or not text:
        return []
    return [c for c in words.ranked(text, limit) if c in columns.position]


def fuse(*rankings: list[bytes], k: int = RRF_K) -> dict[bytes, float]:
    """Reciprocal rank fusion of ranked lists (best first): higher is better."""
    fused: dict[bytes, float] = {}
    for ranking in rankings:
        for rank, content in enumerate(ranking):
            fused[content] = fused.get(content, 0.0) + 1.0 / (k + rank + 1)
    return fused


def text_terms(query: Query) -> str:
    """The words a result found by its text is shown with: the text: filters' and the free
    text's."""
    return " ".join([str(f.value) for f in query.filters if f.field == "text"] +
                    ([query.text] if query.text else []))
