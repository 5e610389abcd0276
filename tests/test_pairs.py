"""RAW+JPEG pairs are one photo: one tile, one rating (XMP to both files), one trash.

The RAW is a DNG made here from a real photo (scikit-image's coffee) with tifffile, in
DNG's LinearRaw layout, which LibRaw reads; no package ships a camera's RAW file."""

from __future__ import annotations

import math
import os
import tomllib
from pathlib import Path

import numpy as np
from PIL import Image

from anagnorisisd.search.catalog import Catalog
from anagnorisisd.search.pair_watch import PairWatch
from anagnorisisd.search.pairs import find_pairs
from anagnorisisd.store.database import Store
from tests.helpers import Daemon, free_port, taken_at, wait_until, write_config


def test_pairs_are_one_name_one_moment_one_of_each() -> None:
    files = [("/p/IMG_0001.CR2", b"r1"), ("/p/img_0001.jpg", b"j1"),
             ("/p/IMG_0002.NEF", b"r2"), ("/p/IMG_0002.JPG", b"j2"),
             ("/p/IMG_0003.dng", b"r3"), ("/p/IMG_0003.jpg", b"j3"), ("/p/IMG_0003.JPEG", b"j4"),
             ("/q/IMG_0001.jpg", b"j5"), ("/p/IMG_0004.dng", b"r6")]
    times = {b"r2": 100.0, b"j2": 110.0, b"r1": math.nan}
    pairs = find_pairs(files, lambda c: times.get(c, 0.0))
    # 0001: paired (a time unknown is no objection); 0002: ten seconds apart; 0003: two
    # developed files, a guess; /q is another folder; 0004 has no JPEG
    assert pairs == {b"r1": b"j1"}


def add_file(store: Store, path: str, content: bytes) -> None:
    """A file hashed and described, as the pipeline leaves it."""
    with store.write() as w:
        w.seen(path, 100, 1_000)
        rec = w.file(path)
        assert rec is not None
        w.set_hash(path, rec.gen, content, 100, 1_000)
        w.put_result(content, "meta", "1", {"format": "jpeg", "width": 4, "height": 3,
                                             "file_size": 100})
        w.finish(path, rec.gen, None)


def test_pairs_are_found_again_only_when_their_files_change(tmp_path: Path) -> None:
    """A pass reads every file record (a second at 100,000 photos); a rating changes no
    pair, so it makes no pass, while a rename, a new photo or a new metadata record do."""
    raw, jpeg, lone_raw, other = b"r" * 32, b"j" * 32, b"q" * 32, b"o" * 32
    store = Store(tmp_path / "data")
    try:
        add_file(store, "/p/IMG_1.DNG", raw)
        add_file(store, "/p/IMG_1.JPG", jpeg)
        add_file(store, "/p/IMG_2.DNG", lone_raw)
        catalog = Catalog(store)
        catalog.load()
        watch = PairWatch(store, catalog)
        assert watch.refresh() == {raw: jpeg} and watch.passes == 1
        assert watch.refresh() == {raw: jpeg} and watch.passes == 1
        with store.write() as w:
            w.set_rating(jpeg, 8.0, 0.0)
        catalog.set_rating(jpeg, 8.0)
        assert watch.refresh() == {raw: jpeg} and watch.passes == 1
        with store.write() as w:  # renamed beside the other RAW: the pair moves with it
            w.move("/p/IMG_1.JPG", "/p/IMG_2.JPG")
        assert watch.refresh() == {lone_raw: jpeg} and watch.passes == 2
        assert catalog.twins(jpeg) == [lone_raw]
        add_file(store, "/p/IMG_3.JPG", other)
        watch.refresh()
        assert watch.passes == 3
        catalog.on_result("meta", jpeg, {"format": "jpeg", "width": 8, "height": 6,
                                             "file_size": 100})
        watch.refresh()
        assert watch.passes == 4
    finally:
        store.close()


def write_dng(path: Path, rgb: np.ndarray, taken: str | None = None,
              camera: tuple[str, str] | None = None) -> None:
    """A LinearRaw DNG of `rgb`; `taken` ("2024:05:01 10:00:02") and `camera` (make,
    model) go in its first IFD, where TIFF/EP lets a camera put them."""
    import tifffile

    own = [(36867, "s", 0, taken, True), (306, "s", 0, taken, True)] if taken else []
    own += [(271, "s", 0, camera[0], True), (272, "s", 0, camera[1], True)] if camera else []
    extratags = [*own, (50706, "B", 4, (1, 4, 0, 0), True), (50707, "B", 4, (1, 1, 0, 0), True),
                 (50708, "s", 0, "anagnorisisd test", True),
                 (50721, "2i", 9, (1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1), True),
                 (50778, "H", 1, 21, True), (50717, "H", 3, (65535,) * 3, True),
                 (50728, "2I", 3, (1, 1, 1, 1, 1, 1), True)]
    tifffile.imwrite(path, rgb.astype(np.uint16) * 257, photometric=34892,
                     extratags=extratags, subfiletype=0)


def test_a_raw_and_its_jpeg_are_one_photo_rated_and_trashed_together(tmp_path: Path) -> None:
    from skimage import data

    lib = tmp_path / "library"
    lib.mkdir()
    coffee = data.coffee()
    # the camera's time and name in the DNG's first IFD, none in its EXIF sub-IFD; the
    # files copied a day apart, so only the cameras' own times can pair them
    write_dng(lib / "IMG_0001.DNG", coffee, taken="2023:11:14 22:13:20",
              camera=("Canon", "Canon EOS R5"))
    os.utime(lib / "IMG_0001.DNG", (1_700_086_400, 1_700_086_400))
    Image.fromarray(coffee).save(lib / "IMG_0001.JPG", quality=90)
    taken_at(lib / "IMG_0001.JPG", 1_700_000_001)  # 2023-11-14 22:13:21 UTC
    Image.fromarray(data.astronaut()).save(lib / "IMG_0002.JPG", quality=90)
    config = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(lib)]}, "storage": {"data_dir": str(tmp_path / "data")},
        "server": {"port": free_port()}, "pipeline": {"stages": ["hash", "meta", "thumbnail"]},
        "ratings": {"write_xmp": True}, "index": {"check_interval_s": 1}})
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"], env=env)
    try:
        wait_until(lambda: daemon.status()["files"]["done"] == 3, timeout=90)
        listing = wait_until(lambda: (lambda page: page if page["total"] == 2 else None)(
            daemon.request("GET", "/api/images?per_page=10")), timeout=60)
        shot = next(i for i in listing["items"] if i["path"].endswith("IMG_0001.JPG"))
        assert shot["files"] == [str(lib / "IMG_0001.JPG"), str(lib / "IMG_0001.DNG")]
        (raw,) = shot["pair"]
        raw_meta = daemon.request("GET", f"/api/images/{raw}")
        assert raw_meta["taken_source"] == "exif" and raw_meta["camera"] == "Canon EOS R5"
        assert raw_meta["taken_at"] == "2023-11-14T22:13:20"
        daemon.request("PUT", f"/api/images/{shot['id']}/rating", {"rating": 8})
        assert daemon.request("GET", f"/api/images/{raw}")["user_rating"] == 8.0
        assert (lib / "IMG_0001.JPG.xmp").exists() and (lib / "IMG_0001.DNG.xmp").exists()
        assert daemon.request("GET", "/api/stacks")["total"] == 0  # not a burst of two
        gone = daemon.request("POST", "/api/files/trash", {"files": [
            {"id": shot["id"], "path": shot["path"]}]})
        assert sorted(Path(p).name for p in gone["trashed"]) == ["IMG_0001.DNG",
                                                                 "IMG_0001.JPG"]
        assert not (lib / "IMG_0001.DNG").exists() and (lib / "IMG_0002.JPG").exists()
    finally:
        daemon.kill()


def test_a_raw_beside_its_jpeg_is_read_from_the_jpeg(tmp_path: Path) -> None:
    from skimage import data

    from anagnorisisd.pipeline.pixels import FilePixels
    from anagnorisisd.stage import PixelNeed

    def colour(path: Path) -> np.ndarray:
        view = FilePixels(str(path), lambda: []).view(PixelNeed(longest=256))
        return np.asarray(view, dtype=np.float64).mean(axis=(0, 1))

    coffee = data.coffee()
    write_dng(tmp_path / "IMG_0009.DNG", coffee)  # LibRaw develops it in its own colours
    alone = colour(tmp_path / "IMG_0009.DNG")
    Image.fromarray(coffee).save(tmp_path / "IMG_0009.jpg", quality=95)
    jpeg = colour(tmp_path / "IMG_0009.jpg")
    assert np.abs(alone - jpeg).max() > 20  # the two decodes are told apart
    before = FilePixels.decodes
    assert np.abs(colour(tmp_path / "IMG_0009.DNG") - jpeg).max() < 1  # read from the JPEG
    assert FilePixels.decodes == before + 1
