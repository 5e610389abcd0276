"""Which photo of a stack or duplicate group to keep, chosen the way the person would.

The order of the questions is the product's promise: first the person's own rating; for
photos they have not rated, the rating their evaluator predicts (their taste, learned);
only when taste does not tell the shots apart, the people in them: the fewest faces with
their eyes shut, then the faces clearly in focus; then the sharpest picture; then an
exposure like the other shots' (no misfire); then the most pixels; then the biggest file.
The reason names the question that decided, in one sentence.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    content: bytes
    user_rating: float | None
    predicted: float | None
    sharpness: float | None
    pixels: int
    file_size: int
    eyes_closed: int | None = None
    """Faces with their eyes shut (None: not measured, or no face)."""
    least_sharp: float | None = None
    """The focus of its least sharp face (None: no face measured)."""
    stops: float | None = None
    """Its exposure in stops from mid-grey (the quality stage), None if not measured."""
    misfire: str | None = None
    """What makes it a misfire ("nearly black"), if it is one."""
    light: float | None = None
    """log2 of the light the camera let in, from EXIF (catalog.light_of), if known."""

    @property
    def rating(self) -> float | None:
        return self.user_rating if self.user_rating is not None else self.predicted


SHARPNESS_MARGIN = 1.15
"""Sharpness within this factor of the sharpest counts as just as sharp: the measure moves
with JPEG noise and scale (a half-size copy can measure a little sharper than its
original), so only a clear difference, like camera shake, decides."""


FACE_MARGIN = 1.5
"""A face's focus within this factor of the best counts as just as sharp: faces are small,
so their measure moves more with noise and expression than the whole picture's."""


EXPOSURE_FAULT = 1.0
"""Stops darker or brighter than the median of the other shots that make an exposure
fault (a stack's shots are of one scene in one light)."""


def exposure_gap(c: Candidate, others: list[Candidate]) -> float | None:
    """How many stops brighter (+) or darker (-) than the median of the other shots."""
    rest = [o.stops for o in others if o.stops is not None and o is not c]
    if c.stops is None or not rest:
        return None
    return float(c.stops - statistics.median(rest))


def exposure_fault(c: Candidate, group: list[Candidate]) -> str | None:
    """The shot's exposure fault against the others, in words, or None."""
    if c.misfire:
        return f"a misfire: {c.misfire}"
    gap = exposure_gap(c, group)
    if gap is None or abs(gap) <= EXPOSURE_FAULT:
        return None
    said = (f"{'under' if gap < 0 else 'over'}exposed, {abs(gap):.1f} stops "
            f"{'darker' if gap < 0 else 'brighter'} than the shots around it")
    rest = [o.light for o in group if o.light is not None and o is not c]
    if c.light is not None and rest:  # what the camera did, where its EXIF says
        setting = c.light - statistics.median(rest)
        if abs(setting) >= 0.5 and (setting < 0) == (gap < 0):
            said += (f" (the camera let in {abs(setting):.1f} stops "
                     f"{'less' if setting < 0 else 'more'} light)")
    return said


def faults(group: list[Candidate]) -> dict[bytes, list[str]]:
    """Each shot's faults in words, beside the others of its group: shut eyes, faces out
    of focus, exposure, misfires. What the compare view shows under each shot."""
    best_face = max((c.least_sharp for c in group if c.least_sharp is not None), default=None)
    out: dict[bytes, list[str]] = {}
    for c in group:
        found = []
        if c.eyes_closed:
            found.append(f"eyes shut ({c.eyes_closed} face{'s' if c.eyes_closed > 1 else ''})")
        if c.least_sharp is not None and best_face is not None \
                and c.least_sharp * FACE_MARGIN < best_face:
            found.append("a face less in focus than in the best shot")
        fault = exposure_fault(c, group)
        if fault:
            found.append(fault)
        out[c.content] = found
    return out


def _known(value: float | None) -> float:
    return -math.inf if value is None else value


def _shut(c: Candidate) -> int:
    return c.eyes_closed or 0


def _rank(candidates: list[Candidate]) -> list[Candidate]:
    """Best first: rating; then, among the best-rated, the fewest shut eyes and the faces
    clearly in focus; then clearly sharper; then pixels, size, and the content id last
    (the inner sort), so equal photos are chosen the same way every time. When the
    best-rated differ in resolution (a resized copy), pixels come before sharpness: the
    measure is taken at one scale, where a shrunken copy looks crisper than its original."""
    top = max(_known(c.rating) for c in candidates)
    leaders = [c for c in candidates if _known(c.rating) == top]
    fewest_shut = min(_shut(c) for c in leaders)
    open_leaders = [c for c in leaders if _shut(c) == fewest_shut]
    best_face = max(_known(c.least_sharp) for c in open_leaders)
    sharpest = max(_known(c.sharpness) for c in leaders)
    resized = max(c.pixels for c in leaders) > 1.1 * min(c.pixels for c in leaders)

    faulty = {c.content for c in candidates if exposure_fault(c, candidates)}

    def key(c: Candidate) -> tuple[float, ...]:
        face_enough = c.least_sharp is None or c.least_sharp * FACE_MARGIN >= best_face
        sharp_enough = _known(c.sharpness) * SHARPNESS_MARGIN >= sharpest
        return (_known(c.rating), -float(_shut(c)), face_enough,
                _known(c.least_sharp) if not face_enough else 0.0,
                float(c.pixels) if resized else 0.0, sharp_enough,
                _known(c.sharpness) if not sharp_enough else 0.0,
                0.0 if c.content in faulty else 1.0, float(c.pixels), float(c.file_size))

    return sorted(sorted(candidates, key=lambda c: bytes(255 - b for b in c.content),
                         reverse=True), key=key, reverse=True)


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
    shut = [c for c in ranked[1:] if _shut(c) > _shut(best)]
    if shut and _shut(best) == 0:
        return best, (f"{alike}everyone's eyes are open here; in {len(shut)} of the other "
                      f"{n - 1} someone's are shut")
    if shut:
        return best, (f"{alike}the fewest shut eyes of these {n} ({_shut(best)} face"
                      f"{'s' if _shut(best) > 1 else ''})")
    if best.least_sharp is not None and runner.least_sharp is not None \
            and best.least_sharp > runner.least_sharp * FACE_MARGIN:
        return best, f"{alike}the faces are in focus here, more than in the other {n - 1}"
    if best.pixels > 1.1 * runner.pixels:
        return best, f"{alike}the most pixels of these {n} ({best.pixels / 1e6:.1f} MP)"
    if best.sharpness is not None and (runner.sharpness is None or
                                       best.sharpness > runner.sharpness * SHARPNESS_MARGIN):
        return best, f"{alike}this one is the sharpest of these {n}"
    if not exposure_fault(best, ranked) and exposure_fault(runner, ranked):
        return best, (f"{alike}as sharp as the others and well exposed, where the next "
                      f"is {exposure_fault(runner, ranked)}")
    if best.pixels > runner.pixels:
        return best, (f"{alike}as sharp as the others, with the most pixels "
                      f"({best.pixels / 1e6:.1f} MP)")
    if best.file_size > runner.file_size:
        return best, f"{alike}the same size in pixels, the largest file"
    bad = sum(1 for c in ranked[1:] if exposure_fault(c, ranked))
    tail = f" (and well exposed, where {bad} of the others are not)" if bad else ""
    return best, f"they are alike in every way that counts; the first of them{tail}"
