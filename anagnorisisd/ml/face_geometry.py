"""The arithmetic around immich's face models: letterboxing, SCRFD decoding, NMS, alignment.

immich runs insightface's detector (SCRFD heads: three strides, two anchors per cell, a
score, four box distances and five landmark offsets per anchor) on the photo letterboxed
into a 640-pixel square, then aligns each face on its five landmarks onto ArcFace's
112-pixel template (a least-squares similarity, Umeyama 1991) for the recogniser. These
functions do the same sums, checked against insightface's own code in
tests/test_faces_exactness.py. OpenCV does the resampling (resize, warpAffine), as it does
for insightface and immich, because a different bilinear would move boxes and vectors.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

DETECTION_SIZE = 640
"""immich's detector input: the photo letterboxed into this square."""
ALIGNED_SIZE = 112
STRIDES = (8, 16, 32)
ANCHORS_PER_CELL = 2
NMS_IOU = 0.4
"""insightface's (and so immich's) overlap above which the weaker of two boxes goes."""

ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
     [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float32)
"""Where ArcFace's training put the eyes, the nose tip and the mouth corners in 112 px."""


@dataclass(frozen=True)
class Detections:
    """Faces found in one picture, strongest first, in that picture's pixels."""

    boxes: NDArray[np.float32]
    """(n, 4): x1, y1, x2, y2."""
    scores: NDArray[np.float32]
    landmarks: NDArray[np.float32]
    """(n, 5, 2): left eye, right eye, nose, left and right mouth corners."""


def letterbox(rgb: NDArray[np.uint8], size: int = DETECTION_SIZE
              ) -> tuple[NDArray[np.uint8], float]:
    """The picture scaled to fit a `size` square, top-left, the rest black, and the scale."""
    height, width = rgb.shape[:2]
    if height / width > 1.0:
        new_height, new_width = size, max(1, int(size / (height / width)))
    else:  # a sliver of a picture still gets one row (insightface would crash on zero)
        new_width, new_height = size, max(1, int(size * (height / width)))
    scale = new_height / height
    square = np.zeros((size, size, 3), dtype=np.uint8)
    square[:new_height, :new_width] = cv2.resize(rgb, (new_width, new_height))
    return square, scale


def detector_blob(square: NDArray[np.uint8]) -> NDArray[np.float32]:
    """NCHW float input as insightface feeds SCRFD: (pixel - 127.5) / 128, RGB."""
    blob = (square.astype(np.float32) - 127.5) / 128.0
    return np.ascontiguousarray(blob.transpose(2, 0, 1)[None])


def _centres(size: int, stride: int) -> NDArray[np.float32]:
    cells = size // stride
    ys, xs = np.mgrid[:cells, :cells]
    centres = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride
    return np.repeat(centres, ANCHORS_PER_CELL, axis=0)


def decode(heads: list[NDArray[np.float32]], threshold: float, scale: float,
           size: int = DETECTION_SIZE) -> Detections:
    """SCRFD's nine outputs (scores, distances, landmark offsets for each stride) to the
    faces scoring at least `threshold`, in the original picture's pixels, after NMS."""
    if len(heads) != 3 * len(STRIDES):
        raise ValueError(f"a face detector with {len(heads)} outputs, not 9 (SCRFD with "
                         "landmarks)")
    scores, boxes, marks = [], [], []
    for level, stride in enumerate(STRIDES):
        centres = _centres(size, stride)
        score = heads[level].reshape(-1)
        distance = heads[level + 3].reshape(-1, 4) * stride
        offsets = heads[level + 6].reshape(-1, 10) * stride
        if not (len(score) == len(distance) == len(offsets) == len(centres)):
            raise ValueError(f"the detector's stride-{stride} outputs do not match a "
                             f"{size}-pixel input")
        keep = score >= threshold
        centre = centres[keep]
        scores.append(score[keep])
        boxes.append(np.concatenate([centre - distance[keep, :2],
                                     centre + distance[keep, 2:]], axis=1))
        marks.append((np.tile(centre, 5) + offsets[keep]).reshape(-1, 5, 2))
    all_scores = np.concatenate(scores).astype(np.float32)
    all_boxes = (np.concatenate(boxes) / scale).astype(np.float32)
    all_marks = (np.concatenate(marks) / scale).astype(np.float32)
    # Sorted twice, descending by reversing numpy's default sort, as insightface does:
    # saturated scores tie, and only the same sequence of sorts keeps the same boxes.
    for _ in range(2):
        order = all_scores.argsort()[::-1]
        all_scores, all_boxes, all_marks = all_scores[order], all_boxes[order], all_marks[order]
    keep_idx = nms(all_boxes, all_scores)
    return Detections(all_boxes[keep_idx], all_scores[keep_idx], all_marks[keep_idx])


def nms(boxes: NDArray[np.float32], scores: NDArray[np.float32],
        threshold: float = NMS_IOU) -> NDArray[np.intp]:
    """Greedy non-maximum suppression with insightface's +1 pixel areas, strongest first
    (ties in insightface's order)."""
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    areas = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = scores.argsort()[::-1]
    keep: list[int] = []
    while order.size:
        best, rest = int(order[0]), order[1:]
        keep.append(best)
        w = np.maximum(0.0, np.minimum(x2[best], x2[rest]) - np.maximum(x1[best], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[best], y2[rest]) - np.maximum(y1[best], y1[rest]) + 1)
        overlap = w * h / (areas[best] + areas[rest] - w * h)
        order = rest[overlap <= threshold]
    return np.asarray(keep, dtype=np.intp)


def similarity(src: NDArray[np.float32], dst: NDArray[np.float32]) -> NDArray[np.float64]:
    """The 2x3 rotation-scale-translation that maps `src` points onto `dst` with the least
    squared error (Umeyama's closed form, as scikit-image's SimilarityTransform computes)."""
    src64, dst64 = src.astype(np.float64), dst.astype(np.float64)
    src_mean, dst_mean = src64.mean(0), dst64.mean(0)
    src_c, dst_c = src64 - src_mean, dst64 - dst_mean
    cov = dst_c.T @ src_c / len(src64)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(cov) < 0:
        d[1] = -1
    rotation = u @ np.diag(d) @ vt
    scale = (s * d).sum() / src_c.var(axis=0).sum()
    translation = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, translation[:, None]])


def aligned(rgb: NDArray[np.uint8], landmarks: NDArray[np.float32]) -> NDArray[np.uint8]:
    """The face warped onto ArcFace's 112-pixel template (insightface's norm_crop)."""
    matrix = similarity(landmarks, ARCFACE_TEMPLATE)
    crop = cv2.warpAffine(rgb, matrix, (ALIGNED_SIZE, ALIGNED_SIZE), borderValue=0.0)
    return np.asarray(crop, dtype=np.uint8)


def recogniser_blob(crops: list[NDArray[np.uint8]]) -> NDArray[np.float32]:
    """NCHW float input as immich feeds ArcFace: (pixel - 127.5) / 127.5, RGB."""
    batch = (np.stack(crops).astype(np.float32) - 127.5) / 127.5
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
