"""A check on pixels that owes nothing to the model: do two photos look alike?

Grouping by a model's cosine alone is only as good as the model, and a model unfit for
photos groups a snapshot, a ladybird and a portrait. Before a photo is trashed as a
near-duplicate or a burst's non-keeper, its thumbnail must also look like the keeper's
at pixel level: a difference hash (dHash) of the grey thumbnail, which survives
re-encoding, resizing, slight blur and a small reframing, but not a different scene.
"""

from __future__ import annotations

import io

import numpy as np
from numpy.typing import NDArray
from PIL import Image

HASH_SIDE = 16
"""A 16x16 gradient grid: 256 bits, fine enough that two scenes with the same overall
light and layout still differ in dozens of bits."""
ALIKE_BITS = 0.2
"""At most this share of the bits may differ (measured in bench/bench_pixels.py: bursts,
re-encodings and blurred shots of one scene differ in under 0.16; different scenes in
0.3 and more)."""
FLAT = 3
"""Grey-level steps this small (of 255) are noise and JPEG ringing, not an edge."""
ALIKE_RATIO = 0.12
"""Aspect ratios further apart than this (relative) are different framings, not copies."""


Fingerprint = tuple[NDArray[np.int8], float]


def fingerprint(thumbnail: bytes) -> Fingerprint:
    """The signs of the grey thumbnail's horizontal and vertical steps on a grid (+1, -1,
    or 0 where the step is too small to mean anything), and its aspect ratio."""
    with Image.open(io.BytesIO(thumbnail)) as img:
        ratio = img.width / max(1, img.height)
        grey = img.convert("L").resize((HASH_SIDE + 1, HASH_SIDE + 1), Image.Resampling.BOX)
    cells = np.asarray(grey, dtype=np.int16)
    steps = np.concatenate([(cells[:-1, 1:] - cells[:-1, :-1]).ravel(),
                            (cells[1:, :-1] - cells[:-1, :-1]).ravel()])
    signs = np.where(steps > FLAT, 1, np.where(steps < -FLAT, -1, 0)).astype(np.int8)
    return signs, ratio


def distance(a: Fingerprint, b: Fingerprint) -> float:
    """The share of the steps either photo has that the other has not the same way: 0 for
    the same picture, about 0.5 and more for different ones. Flat areas (sky, a plain
    background) count only where the other photo has an edge, so two different pictures
    on one plain background are told apart by their subjects."""
    (signs_a, _), (signs_b, _) = a, b
    either = (signs_a != 0) | (signs_b != 0)
    if not either.any():
        return 0.0  # both flat all over: alike as far as pixels can tell
    return float(np.mean(signs_a[either] != signs_b[either]))


def alike(a: Fingerprint, b: Fingerprint) -> bool:
    ratio_a, ratio_b = a[1], b[1]
    if abs(ratio_a - ratio_b) > ALIKE_RATIO * max(ratio_a, ratio_b):
        return False
    return distance(a, b) <= ALIKE_BITS


PAN_STEP = 0.12
"""A shift of at least this share of the frame between two shots is a pan, not a burst's
jitter (measured: a burst's reframing shifts under 0.01, a hand-held pan 0.2-0.5)."""
PAN_ACROSS = 0.08
"""...while the other axis moves at most this share (a pan keeps its horizon)."""
PAN_RESPONSE = 0.15
"""Phase correlation's peak must reach this for the shift to be trusted: different
scenes score under 0.06, overlapping frames 0.3 and more."""
SHIFT_WIDTH = 128
"""Thumbnails are compared this wide: a pan step is a fifth of a frame or more, 25 pixels
here, which phase correlation finds to a pixel; JPEG's reduced decode makes it cheap."""


def _grey(thumbnail: bytes) -> NDArray[np.float32]:
    with Image.open(io.BytesIO(thumbnail)) as img:
        img.draft("L", (SHIFT_WIDTH, SHIFT_WIDTH))
        height = max(8, round(img.height * SHIFT_WIDTH / max(1, img.width)))
        grey = img.convert("L").resize((SHIFT_WIDTH, height), Image.Resampling.BOX)
    return np.asarray(grey, dtype=np.float32)


def frame_shift(a: bytes, b: bytes) -> tuple[float, float, float]:
    """How far the second thumbnail's scene moved against the first's, as shares of the
    frame (x, y), and how sure phase correlation is of it (its peak, 0-1)."""
    import cv2

    first, second = _grey(a), _grey(b)
    rows = min(len(first), len(second))
    first, second = first[:rows], second[:rows]
    window = cv2.createHanningWindow((SHIFT_WIDTH, rows), cv2.CV_32F)
    (dx, dy), response = cv2.phaseCorrelate(first, second, window)
    return float(dx) / SHIFT_WIDTH, float(dy) / rows, float(response)


def pan_direction(shift: tuple[float, float, float]) -> str | None:
    """"left", "right", "up" or "down" for a pan step between two shots, else None."""
    dx, dy, response = shift
    if response < PAN_RESPONSE:
        return None
    if abs(dx) >= PAN_STEP and abs(dy) <= PAN_ACROSS:
        return "left" if dx > 0 else "right"
    if abs(dy) >= PAN_STEP and abs(dx) <= PAN_ACROSS:
        return "up" if dy > 0 else "down"
    return None


def panning_runs(directions: list[str | None]) -> list[tuple[int, int]]:
    """(first, last) shot of every run of shots each panned against the one before, from
    the direction between each shot and the next. The direction may turn within a run:
    a panorama of two rows pans right, then down, then left."""
    runs, start = [], None
    for k, direction in enumerate([*directions, None]):
        if direction is not None and start is None:
            start = k
        elif direction is None and start is not None:
            runs.append((start, k))
            start = None
    return runs
