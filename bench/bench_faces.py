"""Faces and people: the faces stage against its nearest limit, and people at 100,000 faces.

Run: make bench-faces   (or: .venv/bin/python bench/bench_faces.py [--faces N])

1. The faces stage on real photos (face-api's demo photos, copied to N files) against
   the same photos decoded through the same bounded decode path plus the bare detection
   and recognition sessions on inputs prepared beforehand. No face weights can be
   downloaded here, so both run random-weight graphs of buffalo_l's real architectures,
   SCRFD-10G and ArcFace R50, layer for layer (tools/face_real_layout.py; --tiny for the
   small test graphs of tools/face_layout.py), their detector biased so that a few random
   "faces" a photo pass the threshold, as in a library with people in it. The process's
   memory is read after each part. It runs under the daemon's malloc settings
   (cli/memory.py), re-executing itself.
2. People at N faces (default 100,000: 10,000 people of 10 faces each, 512-d vectors
   around random centres, within-person cosine distance about 0.39, under immich's 0.5):
   1,000 new photos joining incrementally, a full regrouping, the people page (just
   after a new photo's face joined someone, and unchanged) and a person: query (p95 of
   20), with the grouping's purity and completeness against the people the vectors were
   drawn from.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from providers import providers

from anagnorisisd.cli.memory import SETTINGS
from anagnorisisd.config import build_config, validate_stage_section
from anagnorisisd.features.people.desk import PeopleDesk
from anagnorisisd.features.people.service import People
from anagnorisisd.ml import face_geometry as geometry
from anagnorisisd.ml.faces import FaceFiles, LocalFaces, largest
from anagnorisisd.ml.session import SessionSettings
from anagnorisisd.pipeline.pixels import FilePixels
from anagnorisisd.search.query import Filter
from anagnorisisd.stage import PixelNeed, StageContext, StageInput
from anagnorisisd.store.database import Store
from plugins.face_quality_stage import FaceQualityStage
from plugins.faces_stage import PREVIEW, FacesStage
from tools.face_layout import detection_graph, recognition_graph
from tools.face_real_layout import write_real_size_model
from tools.npm_files import FACE_API_PHOTOS

ROOT = Path(__file__).resolve().parent.parent


def copied_photos(folder: Path, copies: int) -> list[str]:
    """face-api's six demo photos, `copies` times over, as separate files."""
    photos = []
    for k in range(copies):
        for path in FACE_API_PHOTOS.fetch(ROOT / ".venv" / "npm"):
            target = folder / f"{k}-{path.name}"
            shutil.copy(path, target)
            photos.append(str(target))
    return photos


def rss_mb() -> float:
    """The process's resident memory now (Linux), in MB."""
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["VmRSS"].split()[0]) / 1024


def stage_against_sessions(folder: Path, copies: int, tiny: bool) -> list[tuple[str, float]]:
    data = folder / "data"
    model = data / "models" / "facial-recognition" / "buffalo_l"
    if tiny:
        detection_graph(model / "detection" / "model.onnx", score_bias=-7.0, channels=32)
        recognition_graph(model / "recognition" / "model.onnx")
    else:
        write_real_size_model(model)
    photos = copied_photos(folder, copies)
    before = rss_mb()
    config = build_config({"storage": {"data_dir": str(data)}, "model": {
        "providers": providers()}})
    settings = validate_stage_section("faces", {}, FacesStage.config_schema)
    stage = FacesStage(settings, StageContext(config))
    assert stage.ready()
    need = PixelNeed(longest=PREVIEW)
    stage.process([StageInput(photos[0], None, {"meta": {}},  # sessions warmed, files cached
                              source=FilePixels(photos[0], lambda: []), need=need)])

    start = time.perf_counter()  # the stage, decoding as the pipeline does: its batches,
    for first in range(0, len(photos), stage.batch_size):  # pixels let go after each
        sources = [FilePixels(p, lambda: []) for p in photos[first:first + stage.batch_size]]
        stage.process([StageInput(s.path, None, {"meta": {}}, source=s, need=need)
                       for s in sources])
        for source in sources:
            source.release()
    staged = time.perf_counter() - start
    stage_rss = rss_mb()
    stage.close()

    start = time.perf_counter()  # the limit: the decode, then the bare sessions
    arrays = [np.asarray(FilePixels(p, lambda: []).view(need)) for p in photos]
    decode = time.perf_counter() - start
    bare = LocalFaces(FaceFiles("buffalo_l", model), SessionSettings(tuple(providers())))
    blobs = [geometry.detector_blob(geometry.letterbox(a)[0]) for a in arrays]
    found = [bare.detect(a, 0.7) for a in arrays]
    crops = [geometry.recogniser_blob([geometry.aligned(a, f.landmarks[i])
                                       for i in largest(f.boxes, settings["max_faces"])])
             for a, f in zip(arrays, found, strict=True) if len(f.landmarks)]
    session = bare.detector.session()
    names = [o.name for o in session.get_outputs()]
    if crops:  # warmed as the stage was (its first run outside the timing)
        bare.recogniser.run(crops[0])
    start = time.perf_counter()
    for blob in blobs:
        session.run(names, {bare.detector.input_name: blob})
    for crop in crops:
        bare.recogniser.run(crop)
    sessions = time.perf_counter() - start
    n = len(photos)
    limit = decode + sessions
    return [("photos", n), ("faces found", sum(len(f.boxes) for f in found)),
            ("faces embedded", sum(len(c) for c in crops)),
            ("stage, photos/s", n / staged), ("decode only, photos/s", n / decode),
            ("bare sessions only, photos/s", n / sessions),
            ("decode + bare sessions, photos/s", n / limit),
            ("stage / limit", limit / staged),
            ("memory before the stage, MB", before),
            ("memory with the stage's models, MB", stage_rss)]


def signals_against_landmarks(folder: Path, copies: int) -> list[tuple[str, float]]:
    """The face_quality stage (eyes, focus, turn) against the same decode plus the bare
    68-point predictor on the same faces (found beforehand by dlib's HOG detector, as a
    faces stage's output)."""
    import dlib

    photos = copied_photos(folder, copies)
    need = PixelNeed(longest=PREVIEW)
    detector = dlib.get_frontal_face_detector()
    found: dict[str, dict[str, object]] = {}
    for path in photos:
        view = FilePixels(path, lambda: []).view(need)
        rects = detector(np.asarray(view), 1)
        found[path] = {"width": view.width, "height": view.height, "faces": [
            {"box": [r.left(), r.top(), r.right(), r.bottom()], "small": False}
            for r in rects]}
    stage = FaceQualityStage({}, None)
    assert stage.ready() and stage.landmarks is not None
    start = time.perf_counter()
    for first in range(0, len(photos), stage.batch_size):
        sources = [FilePixels(p, lambda: []) for p in photos[first:first + stage.batch_size]]
        stage.process([StageInput(s.path, None, {"faces": found[s.path]}, source=s, need=need)
                       for s in sources])
        for source in sources:
            source.release()
    staged = time.perf_counter() - start
    start = time.perf_counter()
    arrays = [np.asarray(FilePixels(p, lambda: []).view(need)) for p in photos]
    decode = time.perf_counter() - start
    boxes = [[tuple(float(v) for v in f["box"]) for f in found[p]["faces"]]  # type: ignore[attr-defined]
             for p in photos]
    start = time.perf_counter()
    for rgb, faces in zip(arrays, boxes, strict=True):
        for box in faces:
            stage.landmarks.points(rgb, box)
    bare = time.perf_counter() - start
    n, faces_n = len(photos), sum(len(b) for b in boxes)
    return [("photos", n), ("faces", faces_n), ("stage, photos/s", n / staged),
            ("decode only, photos/s", n / decode),
            ("bare 68-point predictor, faces/s", faces_n / bare),
            ("decode + bare predictor, photos/s", n / (decode + bare)),
            ("stage / limit", (decode + bare) / staged)]


def synthetic(n_people: int, per: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_people, 512)).astype(np.float32)
    vectors = np.repeat(centres, per, axis=0) + rng.normal(
        scale=0.8, size=(n_people * per, 512)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, np.repeat(np.arange(n_people), per)


def output(vector: np.ndarray) -> dict[str, object]:
    return {"dim": 512, "faces": [{"box": [0, 0, 100, 100], "score": 0.9, "small": False,
                                   "vector": vector.astype(np.float16).tobytes()}]}


def people_at_scale(folder: Path, total: int) -> list[tuple[str, float]]:
    from sklearn.metrics import completeness_score, homogeneity_score

    store = Store(folder / "store")
    people = People(store, "faces")
    vectors, labels = synthetic(total // 10, 10)
    for i, vector in enumerate(vectors):  # the library as loaded: one face per photo
        people._add_rows(i.to_bytes(32, "big"), output(vector))
    start = time.perf_counter()
    summary = people.regroup()
    regroup = time.perf_counter() - start
    ids = [people.row_face[r] for r in range(len(vectors))]
    found = [people.final.get(str(f)) or f"none-{k}" for k, f in enumerate(ids)]
    purity = homogeneity_score(labels, found)
    complete = completeness_score(labels, found)

    fresh, _ = synthetic(total // 10, 10, seed=0)  # the same people, new photos of them
    rng = np.random.default_rng(2)
    picks = rng.choice(len(fresh), 1000, replace=False)
    noise = rng.normal(scale=0.02, size=(1000, 512)).astype(np.float32)
    start = time.perf_counter()
    joined = 0
    for k, (row, extra) in enumerate(zip(picks, noise, strict=True)):
        vector = fresh[row] + extra
        vector /= np.linalg.norm(vector)
        content = (10**9 + k).to_bytes(32, "big")
        people.on_result(content, output(vector))
        fid = people.by_content[content][0]
        joined += people.final.get(fid) == people.final.get(str(ids[row]))
    incremental = time.perf_counter() - start

    desk = PeopleDesk(people)
    pid = next(iter(people.people))
    desk.rename(pid, "Ana")
    page, cold, query = [], [], []
    for k in range(20):  # a new photo of someone arrives: that person's line is remade
        people.on_result((2 * 10**9 + k).to_bytes(32, "big"), output(fresh[picks[k]]))
        start = time.perf_counter()
        desk.listing()
        cold.append(time.perf_counter() - start)
        start = time.perf_counter()
        desk.listing()
        page.append(time.perf_counter() - start)
        start = time.perf_counter()
        desk.passing(Filter("person", "=", "Ana"))
        query.append(time.perf_counter() - start)
    store.close()
    return [("faces", total), ("people found", len(people.people)),
            ("regroup, s", regroup), ("groups", summary["groups"]),
            ("purity (homogeneity)", purity), ("completeness", complete),
            ("1,000 new photos joining, s", incremental),
            ("joined the right person", joined / 1000),
            ("people page p95 after a new face, ms", 1000 * float(np.percentile(cold, 95))),
            ("people page p95 otherwise, ms", 1000 * float(np.percentile(page, 95))),
            ("person: query p95, ms", 1000 * float(np.percentile(query, 95)))]


def table(title: str, rows: list[tuple[str, float]]) -> None:
    print(f"\n{title}")
    for name, value in rows:
        shown = f"{value:,.3f}" if isinstance(value, float) else f"{value:,}"
        print(f"  {name:<36} {shown:>12}")


def main() -> None:
    if not all(k in os.environ for k in SETTINGS):  # the daemon's malloc, as it runs
        os.environ.update(SETTINGS)
        os.execv(sys.executable, [sys.executable, *sys.argv])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--copies", type=int, default=4, help="copies of the six photos")
    parser.add_argument("--tiny", action="store_true",
                        help="the tests' small graphs instead of the real architectures")
    parser.add_argument("--only-stage", action="store_true",
                        help="the faces stage against its limit, nothing else")
    args = parser.parse_args()
    sizes = "small test graphs" if args.tiny else "SCRFD-10G + ArcFace R50, random weights"
    with tempfile.TemporaryDirectory() as tmp:
        table(f"faces stage vs decode + bare sessions ({sizes})",
              stage_against_sessions(Path(tmp), args.copies, args.tiny))
    if args.only_stage:
        return
    with tempfile.TemporaryDirectory() as tmp:
        table("face_quality stage vs decode + bare 68-point landmarks (dlib, real weights)",
              signals_against_landmarks(Path(tmp), args.copies))
    with tempfile.TemporaryDirectory() as tmp:
        table(f"people at {args.faces:,} faces", people_at_scale(Path(tmp), args.faces))


if __name__ == "__main__":
    main()
