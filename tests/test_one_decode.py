"""One decode per photo: the thumbnail stage's decode feeds the model, and the vectors are the
ones the embedding stage makes when it decodes for itself.

Counted with the process-wide decode budget (every decode holds it once), on the shipped
model, with the real stages and the sequential runner."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anagnorisisd.config import build_config
from anagnorisisd.imaging.decoding import Limits
from anagnorisisd.ingest.scanner import scan
from anagnorisisd.ml.manager import shipped_model_dir
from anagnorisisd.ml.service import ModelService
from anagnorisisd.pipeline.registry import assemble
from anagnorisisd.pipeline.runner import Pipeline
from anagnorisisd.stage import StageContext
from anagnorisisd.store.database import Store
from tests.helpers import make_photo

MODEL = "shapes-clip-mini"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("library")
    make_photo(root / "wide.jpg", 1600, 900, seed=1)
    make_photo(root / "tall.jpg", 700, 1300, seed=2)
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated: the model must see it upright, as the thumbnail does
    make_photo(root / "rotated.jpg", 1200, 800, seed=3, exif=exif)
    rgba = Image.new("RGBA", (500, 400), (0, 0, 0, 0))
    rgba.paste((200, 30, 30, 255), (100, 100, 400, 300))
    rgba.save(root / "clear.png")
    return root


def index(tmp_path: Path, library: Path, stages: list[str], *, exact: bool = False,
          share: bool = True) -> tuple[dict[str, np.ndarray], int]:
    """Index the library; the stored vectors by file name, and how many decodes it took."""
    data = tmp_path / "-".join([*stages, str(exact), str(share)])
    config = build_config({
        "storage": {"data_dir": str(data)},
        "pipeline": {"stages": stages},
        "model": {"name": MODEL, "providers": ["CPUExecutionProvider"], "auto_pull": False,
                  "exact_decode": exact},
        "stages": {"thumbnail": {"share_decode": share}},
    })
    shutil.copytree(shipped_model_dir(MODEL), config.models_dir / MODEL)
    models = ModelService(config, auto_pull=False)
    assert models.load(), models.problem
    store = Store(config.data_dir)
    assembly = assemble(config, StageContext(config, models))
    assert assembly.names() == stages, assembly.problems
    scan(store, [str(library)], config.library.extensions)
    before = Limits.budget.decodes
    pipeline = Pipeline(store, assembly)
    assert pipeline.run_sequential() == 4
    decodes = Limits.budget.decodes - before
    vectors = {}
    for path in library.iterdir():
        record = store.get_file(str(path))
        assert record is not None and record.hash is not None
        result = store.get_result(record.hash, "clip")
        assert result is not None, path
        vectors[path.name] = np.frombuffer(result["embedding"], np.float16).astype(np.float32)
    for stage in assembly.stages:
        stage.close()
    store.close()
    return vectors, decodes


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_thumbnail_and_model_input_come_from_one_decode(tmp_path: Path, library: Path) -> None:
    shared, shared_decodes = index(tmp_path, library, ["hash", "meta", "thumbnail", "clip"])
    apart, apart_decodes = index(tmp_path, library, ["hash", "meta", "thumbnail", "clip"],
                                 share=False)
    alone, alone_decodes = index(tmp_path, library, ["hash", "clip"])
    assert shared_decodes == 4
    assert apart_decodes == 8  # the switch is what makes the difference
    assert alone_decodes == 4
    for name in shared:
        # Same model input up to the libjpeg scale the larger decode may pick.
        assert cosine(shared[name], alone[name]) >= 0.999, name
        assert np.array_equal(apart[name], alone[name]), name


def test_exact_decoding_shares_bit_for_bit(tmp_path: Path, library: Path) -> None:
    shared, shared_decodes = index(tmp_path, library, ["hash", "thumbnail", "clip"], exact=True)
    alone, _ = index(tmp_path, library, ["hash", "clip"], exact=True)
    assert shared_decodes == 4
    for name in shared:
        assert np.array_equal(shared[name], alone[name]), name
