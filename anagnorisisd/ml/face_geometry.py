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
from functools import cache

import cv2
import numpy as np
from numpy.typing import NDArray

FACE_VIEW = 1440
"""immich's preview size, which its workers detect faces on: the view of the pipeline's
one decode that every face stage reads, so they share it."""
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


def _fitted(height: int, width: int, size: int) -> tuple[int, int]:
    """Height and width of a picture scaled to fit a `size` square, as insightface rounds."""
    if height / width > 1.0:
        return size, max(1, int(size / (height / width)))
    return max(1, int(size * (height / width))), size  # a sliver still gets one row


def letterbox(rgb: NDArray[np.uint8], size: int = DETECTION_SIZE
              ) -> tuple[NDArray[np.uint8], float]:
    """The picture scaled to fit a `size` square, top-left, the rest black, and the scale."""
    new_height, new_width = _fitted(rgb.shape[0], rgb.shape[1], size)
    square = np.zeros((size, size, 3), dtype=np.uint8)
    square[:new_height, :new_width] = cv2.resize(rgb, (new_width, new_height))
    return square, new_height / rgb.shape[0]


def detector_blob(square: NDArray[np.uint8]) -> NDArray[np.float32]:
    """NCHW float input as insightface feeds SCRFD: (pixel - 127.5) / 128, RGB. OpenCV's
    blobFromImage, as insightface calls it: one pass in C, where numpy's three passes
    cost five times as long."""
    blob = cv2.dnn.blobFromImage(square, 1.0 / 128.0, (square.shape[1], square.shape[0]),
                                 (127.5, 127.5, 127.5), swapRB=False)
    return np.asarray(blob, dtype=np.float32)


def letterboxed_blob(rgb: NDArray[np.uint8], size: int = DETECTION_SIZE
                     ) -> tuple[NDArray[np.float32], float]:
    """detector_blob(letterbox(rgb)) in one step: the black border is written as the
    value black becomes, and only the picture itself is converted (a third less work for
    a 3:2 photo). Equal to the two steps, held by tests/test_faces_exactness.py."""
    new_height, new_width = _fitted(rgb.shape[0], rgb.shape[1], size)
    blob = np.full((1, 3, size, size), -127.5 / 128.0, dtype=np.float32)
    scaled = np.asarray(cv2.resize(rgb, (new_width, new_height)), dtype=np.uint8)
    blob[:, :, :new_height, :new_width] = detector_blob(scaled)
    return blob, new_height / rgb.shape[0]


@cache
def _centres(size: int, stride: int) -> NDArray[np.float32]:
    """Anchor centres of one stride's grid (made once: read-only from then on)."""
    cells = size // stride
    ys, xs = np.mgrid[:cells, :cells]
    centres = np.stack([xs, ys], axis=-1).reshape(-1, 2).astype(np.float32) * stride
    out = np.repeat(centres, ANCHORS_PER_CELL, axis=0)
    out.flags.writeable = False
    return out


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
        distance = heads[level + 3].reshape(-1, 4)
        offsets = heads[level + 6].reshape(-1, 10)
        if not (len(score) == len(distance) == len(offsets) == len(centres)):
            raise ValueError(f"the detector's stride-{stride} outputs do not match a "
                             f"{size}-pixel input")
        keep = score >= threshold  # scaled by the stride only where a face scored
        centre, distance, offsets = centres[keep], distance[keep] * stride, offsets[keep] * stride
        scores.append(score[keep])
        boxes.append(np.concatenate([centre - distance[:, :2],
                                     centre + distance[:, 2:]], axis=1))
        marks.append((np.tile(centre, 5) + offsets).reshape(-1, 5, 2))
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
    """NCHW float input as immich (through insightface) feeds ArcFace: (pixel - 127.5)
    / 127.5, RGB, by OpenCV's blobFromImages as insightface calls it."""
    blob = cv2.dnn.blobFromImages(crops, 1.0 / 127.5, (ALIGNED_SIZE, ALIGNED_SIZE),
                                  (127.5, 127.5, 127.5), swapRB=False)
    return np.asarray(blob, dtype=np.float32)
