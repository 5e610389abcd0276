"""What a face's 68 landmarks and pixels say about a shot: eyes open or shut, the face
in focus or not, turned to the camera or away.

- Eyes: the eye aspect ratio (Soukupová and Čech, "Real-Time Eye Blink Detection using
  Facial Landmarks", 2016): the two lid-to-lid heights over twice the eye's width, on
  the six points of each eye in the 68-point scheme (iBUG 300-W), averaged over both
  eyes: open eyes measure about 0.24-0.45, shut ones under 0.21 (CLOSED_BELOW says
  where those figures come from). Lids lowered over eyes looking down measure as
  shut too: from the camera the eye is covered the way a blink covers it, and the 68
  points cannot tell the two apart.
- Focus: the variance of the Laplacian over the face box alone, the box scaled to a
  fixed FOCUS_SIZE square first, so a face 80 px across and one 800 px across compare:
  the whole frame's sharpness is the background's when the face is small.
- Turn: where the nose tip falls between the outer eye corners (0 is midway): a head
  turned aside moves it toward one corner. That is the head's direction; where the
  pupils look would need an iris model.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

CLOSED_BELOW = 0.21
"""Mean eye aspect ratio (both eyes) under which the eyes count as shut. Measured with
dlib's 68 points on face-api's demo photos (tests/test_face_signals.py): open eyes
0.24-0.44, lids lowered over downcast eyes 0.15-0.18, open eyes covered by those lids
0.17-0.23 (5 of 7 under this line: dlib's shape prior keeps some lids apart)."""
FOCUS_SIZE = 112
"""The face box is scaled to this square before its Laplacian is taken."""
BLURRY_BELOW = 40.0
"""Face focus under which a face counts as blurred: sharp faces in face-api's demo
photos measured 57-441 at 1440 px, the same faces under a Gaussian blur of sigma 2 px
9-38 (tests/test_face_signals.py holds both sides)."""
AWAY_BEYOND = 0.25
"""A turn larger than this (a quarter of the eye span off centre) is a head turned away."""
LEFT_EYE, RIGHT_EYE = slice(36, 42), slice(42, 48)
NOSE_TIP, LEFT_CORNER, RIGHT_CORNER = 30, 36, 45


@dataclass(frozen=True)
class FaceSignals:
    eyes: str
    """"open", "closed" or "unknown" (no landmarks, or a face too small to read)."""
    eye_ratio: float | None
    sharpness: float
    looking: str
    """"camera", "away" or "unknown"."""
    turn: float | None

    @property
    def blurry(self) -> bool:
        return self.sharpness < BLURRY_BELOW

    def as_record(self) -> dict[str, object]:
        return {"eyes": self.eyes, "eye_ratio": self.eye_ratio, "sharpness": self.sharpness,
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


def focus(rgb: NDArray[np.uint8], box: tuple[float, float, float, float]) -> float:
    """Variance of the Laplacian of the face box, scaled to FOCUS_SIZE, in grey."""
    height, width = rgb.shape[:2]
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(width, round(box[2])), min(height, round(box[3]))
    if x2 - x1 < 3 or y2 - y1 < 3:
        return 0.0
    crop = cv2.resize(np.ascontiguousarray(rgb[y1:y2, x1:x2]), (FOCUS_SIZE, FOCUS_SIZE),
                      interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    return round(float(cv2.Laplacian(grey, cv2.CV_64F).var()), 2)


def read_face(rgb: NDArray[np.uint8], box: tuple[float, float, float, float],
              points: NDArray[np.float64] | None) -> FaceSignals:
    """The signals of one face, its box and 68 landmarks in the pixels of `rgb`."""
    sharpness = focus(rgb, box)
    if points is None or len(points) != 68:
        return FaceSignals("unknown", None, sharpness, "unknown", None)
    ratio = (eye_ratio(points[LEFT_EYE]) + eye_ratio(points[RIGHT_EYE])) / 2.0
    turned = turn(points)
    return FaceSignals("closed" if ratio < CLOSED_BELOW else "open", round(ratio, 3),
                       sharpness, "away" if abs(turned) > AWAY_BEYOND else "camera",
                       round(turned, 3))
