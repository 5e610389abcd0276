"""One decode per photo, for every stage that reads pixels, built-in or third-party: the
pipeline decodes each file once at the largest size its stages declare, and the vectors
are the ones the embedding stage makes when it is the only stage that decodes.

Counted with the process-wide decode budget (every decode holds it once), on the shipped
model, with the real stages (the worked example stage registered in-process, as a test
may) and the sequential runner."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anagnorisisd.config import build_config
from anagnorisisd.imaging.budget import Limits
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
          **sections: dict) -> tuple[dict[str, np.ndarray], int]:
    """Index the library; the stored vectors by file name, and how many decodes it took."""
    data = tmp_path / "-".join([*stages, str(exact), str(len(sections))])
    config = build_config({
        "storage": {"data_dir": str(data)},
        "pipeline": {"stages": stages},
        "model": {"name": MODEL, "providers": ["CPUExecutionProvider"], "auto_pull": False,
                  "exact_decode": exact},
        **({"stages": sections} if sections else {}),
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
        if "brightness" in stages:
            assert store.get_result(record.hash, "brightness") is not None, path
    for stage in assembly.stages:
        stage.close()
    store.close()
    return vectors, decodes


@pytest.fixture(scope="module", autouse=True)
def example_stage() -> None:
    """The worked example in examples/ registered in-process, the way a test registers a
    stage without installing a distribution."""
    import sys

    from anagnorisisd.pipeline import registry

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"
                           / "anagnorisisd-brightness"))
    registry.register_stage("brightness", "anagnorisisd_brightness:BrightnessStage")


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_every_stage_reads_one_decode(tmp_path: Path, library: Path) -> None:
    shared, shared_decodes = index(tmp_path, library, ["hash", "meta", "thumbnail", "quality",
                                                       "clip"])
    alone, alone_decodes = index(tmp_path, library, ["hash", "clip"])
    example, example_decodes = index(tmp_path, library, ["hash", "meta", "thumbnail",
                                                         "quality", "clip", "brightness"],
                                     brightness={"size": 1024})
    assert shared_decodes == alone_decodes == 4
    assert example_decodes == 4  # a third-party stage asking for 1,024 pixels: still one
    for name in shared:
        # Same model input up to the libjpeg scale the larger decode may pick.
        assert cosine(shared[name], alone[name]) >= 0.999, name
        assert cosine(example[name], alone[name]) >= 0.999, name


def test_exact_decoding_shares_bit_for_bit(tmp_path: Path, library: Path) -> None:
    shared, shared_decodes = index(tmp_path, library, ["hash", "thumbnail", "clip"], exact=True)
    alone, _ = index(tmp_path, library, ["hash", "clip"], exact=True)
    assert shared_decodes == 4
    for name in shared:
        assert np.array_equal(shared[name], alone[name]), name


def test_a_stage_that_comes_later_decodes_for_itself_once(tmp_path: Path, library: Path) -> None:
    """Thumbnails made first; then the quality and model stages added: the photos are
    decoded again, once each, by the first stage that asks (none decoded on this trip)."""
    common = {"storage": {"data_dir": str(tmp_path / "later")},
              "model": {"name": MODEL, "providers": ["CPUExecutionProvider"],
                        "auto_pull": False}}
    first = build_config({**common, "pipeline": {"stages": ["hash", "meta", "thumbnail"]}})
    shutil.copytree(shipped_model_dir(MODEL), first.models_dir / MODEL)
    store = Store(first.data_dir)
    scan(store, [str(library)], first.library.extensions)
    assert Pipeline(store, assemble(first)).run_sequential() == 4
    second = build_config({**common, "pipeline": {"stages": ["hash", "meta", "thumbnail",
                                                            "quality", "clip"]}})
    models = ModelService(second, auto_pull=False)
    assert models.load()
    assembly = assemble(second, StageContext(second, models))
    before = Limits.budget.decodes
    Pipeline(store, assembly).run_sequential()
    assert Limits.budget.decodes - before == 4
    assert all(store.get_result(h, "clip") and store.get_result(h, "quality")
               for h in store.live_hashes())
    for stage in assembly.stages:
        stage.close()
    store.close()





def test_faces_and_face_signals_share_the_trips_decode_and_text_reads_its_own(
        tmp_path: Path, library: Path) -> None:
    """Every default stage, faces through a loopback immich worker with dlib's real
    weights: the trip decodes each photo once for all of hash, meta, thumbnail, quality,
    clip, faces and face_quality; the text stage, which runs in the background lane long
    after the trip let its pixels go, decodes each photo once more, at its own size. That
    second decode is the measured cost of never holding a photo's pixels while the library
    is still being indexed (docs/plugins.md, `background`)."""
    from tests.helpers import Worker

    worker = Worker("normal", 0.0, None, "--faces", "buffalo_l")
    try:
        stages = ["hash", "meta", "thumbnail", "quality", "clip", "faces", "face_quality",
                  "text"]
        config = build_config({
            "storage": {"data_dir": str(tmp_path / "all")},
            "pipeline": {"stages": stages},
            "model": {"name": MODEL, "providers": ["CPUExecutionProvider"],
                      "auto_pull": False, "remote_urls": [worker.url]},
            "stages": {"faces": {"backend": "remote"}}})
        shutil.copytree(shipped_model_dir(MODEL), config.models_dir / MODEL)
        models = ModelService(config, auto_pull=False)
        assert models.load(), models.problem
        store = Store(config.data_dir)
        assembly = assemble(config, StageContext(config, models))
        assert assembly.names() == stages, assembly.problems
        scan(store, [str(library)], config.library.extensions)
        pipeline = Pipeline(store, assembly)
        for lane in pipeline.lanes:  # the trip first, counted alone; the lane after
            lane.stage.ready = lambda: False  # type: ignore[method-assign]
        before = Limits.budget.decodes
        assert pipeline.run_sequential() == 4
        trip = Limits.budget.decodes - before
        for lane in pipeline.lanes:
            del lane.stage.ready
        before = Limits.budget.decodes
        pipeline.refresh_versions()
        assert sum(lane.drain() for lane in pipeline.lanes) == 4
        background = Limits.budget.decodes - before
        for content in store.live_hashes():
            for stage in ("faces", "face_quality", "text"):
                assert store.get_result(content, stage) is not None, stage
        for stage in assembly.stages:
            stage.close()
        store.close()
    finally:
        worker.kill()
    assert trip == 4, trip
    assert background == 4, background
