"""Eyes, focus and turn measured on real faces with real weights (dlib's 68 landmarks):
face-api's demo photos, whose people have their eyes open, except three who look down
with lowered lids; no package ships a photo of a blink, so shut eyes are also made by
placing those lowered lids, cut from their own photo, over open eyes in another photo.
Blur is a real Gaussian kernel over the real photo."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFilter

from anagnorisisd.imaging.face_signals import BLURRY_BELOW, read_face
from anagnorisisd.ml.face_landmarks import FaceLandmarks, model_path
from tools.npm_files import FACE_API_PHOTOS

ROOT = Path(__file__).resolve().parent.parent
Box = tuple[float, float, float, float]


def sample(number: int) -> np.ndarray:
    path = FACE_API_PHOTOS.fetch(ROOT / ".venv" / "npm")[number - 1]
    with Image.open(path) as img:
        img = img.convert("RGB")
        img.thumbnail((1440, 1440))
        return np.asarray(img)


def boxes(rgb: np.ndarray) -> list[Box]:
    """Faces as dlib's HOG detector finds them, left to right."""
    import dlib

    found = dlib.get_frontal_face_detector()(rgb, 1)
    return [(float(r.left()), float(r.top()), float(r.right()), float(r.bottom()))
            for r in sorted(found, key=lambda r: r.left())]


@pytest.fixture(scope="module")
def landmarks() -> FaceLandmarks:
    path = model_path()
    assert path is not None, "face-recognition-models is a dependency"
    return FaceLandmarks(path)


def test_open_eyes_measure_open_and_lowered_lids_measure_shut(landmarks: FaceLandmarks
                                                              ) -> None:
    for number in (3, 4, 5, 6):  # 15 faces, every one with open eyes
        rgb = sample(number)
        for box in boxes(rgb):
            signals = read_face(rgb, box, landmarks.points(rgb, box))
            assert signals.eyes == "open", (number, box, signals)
            assert not signals.blurry, (number, box, signals)
    rgb = sample(2)  # the one face dlib finds here looks down, lids lowered
    (box,) = boxes(rgb)
    assert read_face(rgb, box, landmarks.points(rgb, box)).eyes == "closed"


def corners(points: np.ndarray, eye: slice) -> np.ndarray:
    """An eye's two corners (its first and fourth point), where the lids meet."""
    return np.asarray(points[eye][[0, 3]], dtype=np.float32)


def lids_over(target: np.ndarray, target_points: np.ndarray, source: np.ndarray,
              source_points: np.ndarray) -> np.ndarray:
    """Each of the source face's eyes warped onto the target's (a similarity matching the
    two corners of the eye), blended in with a soft ellipse around the eye."""
    out = target.astype(np.float32)
    for eye in (slice(36, 42), slice(42, 48)):
        src, dst = corners(source_points, eye), corners(target_points, eye)
        matrix, _ = cv2.estimateAffinePartial2D(src, dst)
        warped = cv2.warpAffine(source, matrix, (target.shape[1], target.shape[0]))
        mask = np.zeros(target.shape[:2], np.float32)
        centre = np.asarray(target_points[eye], dtype=np.float32).mean(axis=0)
        width = float(np.linalg.norm(dst[1] - dst[0]))
        cv2.ellipse(mask, (int(centre[0]), int(centre[1])), (int(width * 0.85),
                    int(width * 0.5)), 0, 0, 360, 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), width * 0.12)[..., None]
        out = out * (1 - mask) + warped.astype(np.float32) * mask
    return np.clip(out, 0, 255).astype(np.uint8)


def test_open_eyes_covered_by_real_lowered_lids_measure_shut(landmarks: FaceLandmarks
                                                             ) -> None:
    lids = sample(2)
    (lid_box,) = boxes(lids)
    lid_points = landmarks.points(lids, lid_box)
    shut = 0
    tried = 0
    for number in (3, 6):
        rgb = sample(number)
        for box in boxes(rgb):
            points = landmarks.points(rgb, box)
            assert read_face(rgb, box, points).eyes == "open"
            changed = lids_over(rgb, points, lids, lid_points)
            tried += 1
            shut += read_face(changed, box, landmarks.points(changed, box)).eyes == "closed"
    # measured 5 of 7: the shape model's prior holds some lids a little apart; the figure
    # is in the README and face_signals.CLOSED_BELOW
    assert tried == 7 and shut >= 5, (shut, tried)


def test_a_real_blur_makes_faces_blurry_and_the_sharp_ones_are_not() -> None:
    for number in (1, 3, 6):
        img = Image.fromarray(sample(number))
        blurred = np.asarray(img.filter(ImageFilter.GaussianBlur(2)))
        sharp = np.asarray(img)
        for box in boxes(sharp):
            before = read_face(sharp, box, None)
            after = read_face(blurred, box, None)
            assert before.sharpness >= BLURRY_BELOW > after.sharpness, (number, box)
            assert before.eyes == "unknown"  # no landmarks, no guess
