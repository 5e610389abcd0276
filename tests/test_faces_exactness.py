"""The local face model does what insightface's own code (immich's engine) does.

Random-weight graphs in the exact published layout (tools/face_layout.py) run through
our detector, alignment and recogniser and through insightface's RetinaFace, norm_crop
and ArcFaceONNX, on real photos (scikit-image's, face-api's demo photos) and on rotated,
narrow and tall crops of them: the same boxes, landmarks and scores, crops within one
grey level, vectors at cosine 0.9999 or more.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anagnorisisd.ml import face_geometry as geometry
from anagnorisisd.ml.faces import FaceFiles, LocalFaces
from anagnorisisd.ml.session import SessionSettings
from tools.face_layout import write_face_model
from tools.npm_files import FACE_API_PHOTOS

ROOT = Path(__file__).resolve().parent.parent


def photos() -> list[np.ndarray]:
    from skimage import data

    found = [data.astronaut(), data.coffee()]
    for path in FACE_API_PHOTOS.fetch(ROOT / ".venv" / "npm")[:3]:
        with Image.open(path) as img:
            img.thumbnail((1440, 1440))
            found.append(np.asarray(img.convert("RGB")))
    base = found[0]
    found += [np.ascontiguousarray(np.rot90(base)), np.ascontiguousarray(base[:, :200]),
              np.ascontiguousarray(base[:150])]
    return found


@pytest.fixture(scope="module")
def pictures() -> list[np.ndarray]:
    return photos()


@pytest.mark.parametrize("score_bias", [-2.0, 0.0])
def test_detection_alignment_and_vectors_match_insightface(tmp_path: Path, score_bias: float,
                                                           pictures: list[np.ndarray]) -> None:
    from insightface.model_zoo.arcface_onnx import ArcFaceONNX
    from insightface.model_zoo.retinaface import RetinaFace
    from insightface.utils import face_align

    root = write_face_model(tmp_path / "buffalo_l", score_bias=score_bias)
    ours = LocalFaces(FaceFiles("buffalo_l", root), SessionSettings(("CPUExecutionProvider",)))
    detector = RetinaFace(model_file=str(root / "detection" / "model.onnx"))
    detector.prepare(ctx_id=-1, det_thresh=0.7, input_size=(640, 640))  # as immich prepares it
    recogniser = ArcFaceONNX(model_file=str(root / "recognition" / "model.onnx"))
    recogniser.prepare(ctx_id=-1)
    compared = 0
    for rgb in pictures:
        bgr = np.ascontiguousarray(rgb[:, :, ::-1])  # immich decodes with OpenCV: BGR
        found = ours.detect(rgb, 0.7)
        boxes, landmarks = detector.detect(bgr)
        assert len(found.boxes) == len(boxes)
        np.testing.assert_allclose(found.boxes, boxes[:, :4], atol=1e-3)
        np.testing.assert_allclose(found.scores, boxes[:, 4], atol=1e-6)
        np.testing.assert_allclose(found.landmarks, landmarks, atol=1e-3)
        vectors = ours.describe(rgb, found.landmarks[:8]) if len(boxes) else []
        for k, vector in enumerate(vectors):
            with warnings.catch_warnings():  # scikit-image deprecates what insightface calls
                warnings.simplefilter("ignore", FutureWarning)
                theirs_crop = face_align.norm_crop(bgr, landmarks[k])
            our_crop = geometry.aligned(rgb, found.landmarks[k]).astype(int)
            assert np.abs(theirs_crop[:, :, ::-1].astype(int) - our_crop).max() <= 1
            theirs = recogniser.get_feat(theirs_crop).ravel()
            assert float(vector @ theirs) / float(np.linalg.norm(theirs)) >= 0.9999
            compared += 1
    assert compared >= 10, "the graphs found too few faces to compare"


def test_a_photo_without_faces_and_a_tiny_one(tmp_path: Path) -> None:
    root = write_face_model(tmp_path / "m", score_bias=-30.0)  # nothing passes
    ours = LocalFaces(FaceFiles("m", root), SessionSettings(("CPUExecutionProvider",)))
    assert ours.faces(np.zeros((300, 400, 3), np.uint8), 0.7) == ([], 0)
    assert ours.faces(np.zeros((1, 1, 3), np.uint8), 0.7) == ([], 0)
    assert ours.faces(np.zeros((1, 3000, 3), np.uint8), 0.7) == ([], 0)


def test_a_detector_of_another_shape_is_refused_in_one_line(tmp_path: Path) -> None:
    from anagnorisisd.ml.layout import ModelError

    with pytest.raises(ValueError, match="not 9"):
        geometry.decode([np.zeros((1, 1), np.float32)] * 6, 0.5, 1.0)
    root = write_face_model(tmp_path / "m")
    (root / "recognition" / "model.onnx").unlink()
    with pytest.raises(ModelError, match=r"lacks recognition/model\.onnx"):
        LocalFaces(FaceFiles("m", root), SessionSettings(("CPUExecutionProvider",)))


def test_a_face_model_folder_is_imported_in_immichs_layout_and_listed(tmp_path: Path) -> None:
    from tests.helpers import run_cli, write_config

    config = write_config(tmp_path / "config.toml",
                          {"storage": {"data_dir": str(tmp_path / "data")}})
    source = write_face_model(tmp_path / "buffalo_s", score_bias=0.0)
    done = run_cli("model", "import", str(source), "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "data" / "models" / "facial-recognition" / "buffalo_s" / "recognition"
            / "model.onnx").is_file()
    (source / "detection" / "model.onnx").write_bytes(b"not a graph")
    broken = run_cli("model", "import", str(source), "--config", str(config))
    assert broken.returncode == 2 and "cannot import" in broken.stderr
    listed = run_cli("model", "list", "--available", "--config", str(config))
    assert "antelopev2" in listed.stdout and "non-commercial" in listed.stdout


def test_a_crowd_is_bounded_before_recognition_largest_faces_first(
        tmp_path: Path, pictures: list[np.ndarray]) -> None:
    root = write_face_model(tmp_path / "m", score_bias=0.0)  # a crowd in every photo
    ours = LocalFaces(FaceFiles("m", root), SessionSettings(("CPUExecutionProvider",)))
    every, seen = ours.faces(pictures[0], 0.7)
    kept, seen_again = ours.faces(pictures[0], 0.7, most=5)
    assert seen == seen_again == len(every) > 5 and len(kept) == 5
    areas = [(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]) for f in every]
    assert sorted(areas, reverse=True)[:5] == [(f.box[2] - f.box[0]) * (f.box[3] - f.box[1])
                                              for f in kept]
    by_box = {f.box: f.vector for f in every}
    assert all(float(f.vector @ by_box[f.box]) > 0.9999 for f in kept)


def test_the_one_step_letterboxed_blob_equals_the_two_steps(pictures: list[np.ndarray]
                                                             ) -> None:
    for rgb in [*pictures, np.zeros((1, 900, 3), np.uint8), np.zeros((700, 2, 3), np.uint8)]:
        blob, scale = geometry.letterboxed_blob(rgb)
        square, expected_scale = geometry.letterbox(rgb)
        assert scale == expected_scale
        assert np.array_equal(blob, geometry.detector_blob(square))
