"""Which photo of a stack or duplicate group to keep, chosen the way the person would.

The order of the questions is the product's promise: first the person's own rating; for
photos they have not rated, the rating their evaluator predicts (their taste, learned);
only when taste does not tell the shots apart, the sharpest; then the most pixels; then
the biggest file. The reason names the question that decided, in one sentence.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    content: bytes
    user_rating: float | None
    predicted: float | None
    sharpness: float | None
    pixels: int
    file_size: int

    @property
    def rating(self) -> float | None:
        return self.user_rating if self.user_rating is not None else self.predicted


SHARPNESS_MARGIN = 1.15
"""Sharpness within this factor of the sharpest counts as just as sharp: the measure moves
with JPEG noise and scale (a half-size copy can measure a little sharper than its
original), so only a clear difference, like camera shake, decides."""


def _known(value: float | None) -> float:
    return -math.inf if value is None else value


def _rank(candidates: list[Candidate]) -> list[Candidate]:
    """Best first: rating; then, among the best-rated, clearly sharper; then pixels, size,
    and the content id last, so equal photos are chosen the same way every time. When the
    best-rated differ in resolution (a resized copy), pixels come before sharpness: the
    measure is taken at one scale, where a shrunken copy looks crisper than its original."""
    top = max(_known(c.rating) for c in candidates)
    leaders = [c for c in candidates if _known(c.rating) == top]
    sharpest = max(_known(c.sharpness) for c in leaders)
    resized = max(c.pixels for c in leaders) > 1.1 * min(c.pixels for c in leaders)

    def key(c: Candidate) -> tuple[float, float, bool, float, float, float, bytes]:
        sharp_enough = _known(c.sharpness) * SHARPNESS_MARGIN >= sharpest
        return (_known(c.rating), float(c.pixels) if resized else 0.0, sharp_enough,
                _known(c.sharpness) if not sharp_enough else 0.0, float(c.pixels),
                float(c.file_size), bytes(255 - b for b in c.content))

    return sorted(candidates, key=key, reverse=True)


def choose(candidates: list[Candidate]) -> tuple[Candidate, str]:
    """The keeper and why, in a sentence the panel can show as it is."""
    if not candidates:
        raise ValueError("a group needs at least one photo")
    ranked = _rank(candidates)
    best = ranked[0]
    if len(ranked) == 1:
        return best, "the only photo here"
    runner = ranked[1]
    n = len(ranked)
    sharpest = best.sharpness is not None and all(
        (c.sharpness or 0) <= best.sharpness for c in ranked)
    also = "; it is also the sharpest" if sharpest else ""
    if best.rating is not None and (runner.rating is None or best.rating > runner.rating):
        if best.user_rating is not None:
            return best, f"you rated it {best.user_rating:g}, the highest of these {n}{also}"
        return best, (f"your evaluator, taught by your ratings, predicts {best.rating:.1f} for "
                      f"it, the highest of these {n}{also}")
    alike = "rated alike, " if best.rating is not None else ""
    if best.pixels > 1.1 * runner.pixels:
        return best, f"{alike}the most pixels of these {n} ({best.pixels / 1e6:.1f} MP)"
    if best.sharpness is not None and (runner.sharpness is None or
                                       best.sharpness > runner.sharpness * SHARPNESS_MARGIN):
        return best, f"{alike}this one is the sharpest of these {n}"
    if best.pixels > runner.pixels:
        return best, (f"{alike}as sharp as the others, with the most pixels "
                      f"({best.pixels / 1e6:.1f} MP)")
    if best.file_size > runner.file_size:
        return best, f"{alike}the same size in pixels, the largest file"
    return best, "they are alike in every way that counts; the first of them"
