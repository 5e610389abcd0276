"""Rankings that do not share a unit, made one: reciprocal rank fusion.

A free-text query asks several questions at once: which photos show it (CLIP's cosine)
and, from features that rank by their own means, which say it (the words read in them, a
BM25). Their scores do not compare (a cosine of 0.3 and a BM25 of -7 share no unit), so
the rankings are fused by rank, not by score: each photo scores the sum of 1 / (RRF_K +
its rank) in each list it is in. It was chosen because it needs no calibration between
the scores and has no weight to fit on data this project does not have; a measured
comparison with a weighted sum of normalised scores is not made yet
(tests/test_text_search.py checks that free text finds a photo by its words).
"""

from __future__ import annotations

RRF_K = 60
"""The constant of Cormack, Clarke and Büttcher's paper (SIGIR 2009), where it was chosen
on data and found to matter little between 10 and 100."""


def fuse(*rankings: list[bytes], k: int = RRF_K) -> dict[bytes, float]:
    """Reciprocal rank fusion of ranked lists (best first): higher is better."""
    fused: dict[bytes, float] = {}
    for ranking in rankings:
        for rank, content in enumerate(ranking):
            fused[content] = fused.get(content, 0.0) + 1.0 / (k + rank + 1)
    return fused
