"""Eyes and focus on real faces: how often each measure is right, and what it costs a face.

The material and the blur are tests/test_face_signals.py's. Beside each measure, the one
it replaced in the same run: the 68-point eye aspect ratio under 0.21 (eyes) and the
absolute Laplacian variance under 40 (focus).

Usage: .venv/bin/python bench/bench_face_signals.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from anagnorisisd.imaging.face_signals import read_face  # noqa: E402
from anagnorisisd.ml.face_landmarks import FaceLandmarks, model_path  # noqa: E402
from tests import test_face_signals as material  # noqa: E402

OLD_EAR, OLD_LAPLACIAN = 0.21, 40.0


def old_focus(rgb: np.ndarray, box: tuple[float, float, float, float]) -> float:
    x1, y1, x2, y2 = (int(v) for v in box)
    crop = cv2.resize(np.ascontiguousarray(rgb[max(0, y1):y2, max(0, x1):x2]), (112, 112),
                      interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


def main() -> None:
    path = model_path()
    assert path is not None
    landmarks = FaceLandmarks(path)
    eyes = material.eyes.__wrapped__()  # type: ignore[attr-defined]
    rows = []
    opened = list(material.open_faces())
    spent = {"landmarks": 0.0, "iris": 0.0}
    counts = {"iris": {"open": 0, "closed": 0, "unknown": 0},
              "68 points": {"open": 0, "closed": 0, "unknown": 0}, "old": {"closed": 0}}
    for _, rgb, box in opened:
        start = time.perf_counter()
        points = landmarks.points(rgb, box)
        spent["landmarks"] += time.perf_counter() - start
        start = time.perf_counter()
        readings = eyes.read(rgb, points)
        spent["iris"] += time.perf_counter() - start
        counts["iris"][read_face(rgb, box, points, readings).eyes] += 1
        plain = read_face(rgb, box, points)
        counts["68 points"][plain.eyes] += 1
        counts["old"]["closed"] += (plain.eye_ratio or 1.0) < OLD_EAR
    n = len(opened)
    rows.append(("real open eyes", n, f"iris: {counts['iris']['closed']} called shut, "
                 f"{counts['iris']['unknown']} unknown", f"68 points: "
                 f"{counts['68 points']['closed']} shut, {counts['68 points']['unknown']} "
                 "unknown", f"before (EAR < 0.21): {counts['old']['closed']} called shut"))
    grid = material.load(material.HUMAN.fetch(material.NPM)[0], 1920)  # at full size
    crowd = {"iris": [], "68 points": [], "old": []}
    for box in material.boxes(grid, 1):
        points = landmarks.points(grid, box)
        crowd["iris"].append(read_face(grid, box, points, eyes.read(grid, points)).eyes)
        plain = read_face(grid, box, points)
        crowd["68 points"].append(plain.eyes)
        crowd["old"].append("closed" if (plain.eye_ratio or 1.0) < OLD_EAR else "open")
    rows.append(("human's grid of small real faces (mostly open; 3 look down)",
                 len(crowd["iris"]), *(f"{k}: {v.count('closed')} shut, "
                                       f"{v.count('unknown')} unknown"
                                       for k, v in crowd.items())))
    frames = material.video_frames(material.BLINKS)
    blinks = [(rgb, material.boxes(rgb, 0)[0]) for rgb in frames.values()]
    blinks += [(material.still(k), material.boxes(material.still(k))[0])
               for k in material.SHUT_STILLS]
    said = {"iris": [], "68 points": [], "old": []}
    for rgb, box in blinks:
        points = landmarks.points(rgb, box)
        said["iris"].append(read_face(rgb, box, points, eyes.read(rgb, points)).eyes)
        plain = read_face(rgb, box, points)
        said["68 points"].append(plain.eyes)
        said["old"].append("closed" if (plain.eye_ratio or 1.0) < OLD_EAR else "open")
    rows.append(("real blinks", len(blinks), *(f"{k}: {v.count('closed')} shut, "
                                                f"{v.count('open')} open"
                                                for k, v in said.items())))
    rng = np.random.default_rng(7)
    faces = [(material.load(p, 2400), b) for p in material.FACE_API_PHOTOS.fetch(
        material.NPM)[2:6] for b in material.boxes(material.load(p, 2400), 0)]
    caught = {"now": 0, "old": 0}
    false = {"now": 0, "old": 0}
    total = 0
    for rgb, box in faces:
        sharp = material.blurred(rgb, box, "none", rng)
        false["now"] += read_face(sharp, box, None).blurry is True
        false["old"] += old_focus(sharp, box) < OLD_LAPLACIAN
        for kernel in ("gauss-35", "gauss-50", "disk-25"):
            soft = material.blurred(rgb, box, kernel, rng)
            total += 1
            caught["now"] += read_face(soft, box, None).blurry is True
            caught["old"] += old_focus(soft, box) < OLD_LAPLACIAN
    rows.append(("faces out of focus (noise, JPEG)", total,
                 f"now: {caught['now']} caught, {false['now']} of {len(faces)} sharp ones "
                 "called blurry", f"before: {caught['old']} caught, {false['old']} sharp "
                 "called blurry", ""))
    print(f"| material | faces | {' | '.join(['measure'] * 3)} |")
    print("|---|---:|---|---|---|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    print(f"\nper face, one core: 68 landmarks {1000 * spent['landmarks'] / n:.1f} ms, "
          f"iris model (both eyes) {1000 * spent['iris'] / n:.1f} ms")


if __name__ == "__main__":
    main()
