"""The small model we train and ship really does semantic search, on pictures it never saw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from anagnorisisd.app.shapes import COLOURS, SHAPES, make_library
from anagnorisisd.ml.clip import ClipModel
from anagnorisisd.ml.layout import ModelFiles
from anagnorisisd.ml.manager import shipped_model_dir
from anagnorisisd.ml.session import SessionSettings

MINI = shipped_model_dir("shapes-clip-mini")
PER_CLASS = 12


@pytest.fixture(scope="module")
def held_out(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """12 pictures of each of the 32 colour+shape classes, drawn with seeds training never used."""
    folder = tmp_path_factory.mktemp("held-out")
    scenes = make_library(folder, PER_CLASS * len(COLOURS) * len(SHAPES), seed=990_001,
                          every_class=True)
    model = ClipModel(ModelFiles("shapes-clip-mini", MINI),
                      SessionSettings(("CPUExecutionProvider",)))
    vectors = model.embed_images(np.stack([model.preprocess.load(str(p)) for p, _ in scenes]))
    labels = np.array([s.label for _, s in scenes])
    return model, vectors, labels


def test_the_shipped_model_is_small() -> None:
    size = sum(p.stat().st_size for p in MINI.rglob("*") if p.is_file())
    assert size < 5_000_000, f"{size / 1e6:.1f} MB"


def test_every_colour_and_shape_query_finds_its_pictures(held_out) -> None:  # type: ignore[no-untyped-def]
    model, vectors, labels = held_out
    worst = 1.0
    for colour in COLOURS:
        for shape in SHAPES:
            query = model.embed_text(f"a photo of a {colour} {shape}")
            top = np.argsort(-(vectors @ query))[:10]
            precision = float(np.mean(labels[top] == f"{colour} {shape}"))
            assert precision >= 0.9, f"'{colour} {shape}': {labels[top].tolist()}"
            worst = min(worst, precision)
    print(f"worst top-10 precision over 32 queries: {worst:.2f}")


def test_image_neighbours_share_colour_and_shape(held_out) -> None:  # type: ignore[no-untyped-def]
    _, vectors, labels = held_out
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -np.inf)
    top5 = np.argsort(-sims, axis=1)[:, :5]
    share = float(np.mean(labels[top5] == labels[:, None]))
    assert share >= 0.9, share


def test_short_captions_work_too(held_out) -> None:  # type: ignore[no-untyped-def]
    model, vectors, labels = held_out
    hits = [np.mean(labels[np.argsort(-(vectors @ model.embed_text(f"{c} {s}")))[:10]]
                    == f"{c} {s}") for c in COLOURS for s in SHAPES]
    assert np.mean(hits) >= 0.9


def test_the_opt_in_int8_encoder_agrees_with_fp32(held_out, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    from anagnorisisd.config import build_config
    from anagnorisisd.ml.service import ModelService

    model, _, _ = held_out
    shutil.copytree(MINI, tmp_path / "models" / "shapes-clip-mini")
    config = build_config({"storage": {"data_dir": str(tmp_path)}, "model": {
        "name": "shapes-clip-mini", "quantized": True, "providers": ["CPUExecutionProvider"]}})
    service = ModelService(config, auto_pull=False)
    assert service.load(), service.problem
    int8 = service.model()
    assert int8.visual_graph.name == "model.int8.onnx"
    assert int8.identity != model.identity  # switching re-embeds
    pictures = make_library(tmp_path / "pictures", 64, seed=5, every_class=True)
    tensors = np.stack([model.preprocess.load(str(p)) for p, _ in pictures])
    cosine = (model.embed_images(tensors) * int8.embed_images(tensors)).sum(axis=1)
    assert cosine.min() >= 0.99, cosine.min()
