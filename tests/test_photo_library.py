"""A real photo library: phone and web formats, colour profiles, transparency, dates,
cameras and places, XMP ratings, and failed files kept out of the grid.

Every file is made here: HEIC with pillow-heif, AVIF with Pillow, JPEG XL with
pillow-jxl-plugin, a Display P3 JPEG with an ICC profile written below, and EXIF
with Pillow's own writer.
"""

from __future__ import annotations

import io
import struct
import tomllib
import urllib.parse
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from anagnorisisd.features.sidecars.sync import SidecarSync
from anagnorisisd.imaging.convert import NEUTRAL, to_rgb
from anagnorisisd.imaging.formats import register
from anagnorisisd.store.database import Store
from plugins.meta_stage import read_meta
from plugins.thumbnail_stage import thumbnail_of
from tests.helpers import Daemon, free_port, make_photo, wait_until, write_config

LISBON = (38.0, 43.0, 20.4), (9.0, 8.0, 21.48)  # 38.7223 N, 9.1393 W


def s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def display_p3_profile() -> bytes:
    """A matrix/TRC ICC v2 profile with Display P3's D50-adapted primaries and a 2.2 gamma:
    enough for LittleCMS to convert from P3 the way a phone photo's profile asks."""
    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ " + b"\0" * 4 + s15(x) + s15(y) + s15(z)

    curve = b"curv" + b"\0" * 4 + struct.pack(">IH", 1, 0x0233) + b"\0\0"
    text = b"Display P3 (test)"
    desc = (b"desc" + b"\0" * 4 + struct.pack(">I", len(text) + 1) + text + b"\0"
            + b"\0" * 8 + b"\0" * 3 + b"\0" * 67)
    tags = [(b"desc", desc), (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
            (b"rXYZ", xyz(0.5151, 0.2412, -0.0011)), (b"gXYZ", xyz(0.2920, 0.6922, 0.0419)),
            (b"bXYZ", xyz(0.1571, 0.0666, 0.7841)), (b"rTRC", curve), (b"gTRC", curve),
            (b"bTRC", curve), (b"cprt", b"text" + b"\0" * 4 + b"none\0")]
    offset = 128 + 4 + 12 * len(tags)
    table, data = b"", b""
    for sig, body in tags:
        while len(body) % 4:
            body += b"\0"
        table += sig + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (struct.pack(">I", size) + b"lcms" + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ "
              + struct.pack(">6H", 2024, 1, 1, 0, 0, 0) + b"acsp" + b"\0" * 24
              + struct.pack(">I", 0) + s15(0.9642) + s15(1.0) + s15(0.8249) + b"\0" * 48)
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + data


def exif_for(taken: str | None = None, offset: str | None = None, make: str | None = None,
             model: str | None = None, gps: Any = None, lens: str | None = None) -> Image.Exif:
    exif = Image.Exif()
    if make:
        exif[0x010F] = make
    if model:
        exif[0x0110] = model
    sub = exif.get_ifd(0x8769)
    if taken:
        sub[0x9003] = taken
    if offset:
        sub[0x9011] = offset
    if lens:
        sub[0xA434] = lens
    sub[0x829D] = 1.8
    sub[0x829A] = 1 / 120
    sub[0x8827] = 100
    sub[0x920A] = 26.0
    if gps:
        (lat, lon) = gps
        exif.get_ifd(0x8825).update({1: "N", 2: lat, 3: "W", 4: lon})
    return exif


# ------------------------------------------------------------------ decoding
def test_every_format_decodes_upright_with_its_colours(tmp_path: Path) -> None:
    register()
    base = Image.new("RGB", (120, 80), (200, 30, 40))
    for fmt, suffix in (("HEIF", ".heic"), ("AVIF", ".avif"), ("JXL", ".jxl")):
        path = tmp_path / f"phone{suffix}"
        base.save(path, fmt, quality=95)
        thumb = thumbnail_of(str(path), 64, "jpeg", 95)
        pixel = Image.open(io.BytesIO(thumb["data"])).getpixel((32, 20))
        assert thumb["width"] == 64 and np.abs(np.subtract(pixel, (200, 30, 40))).max() < 20, fmt
        assert read_meta(str(path))["format"] in ("heif", "avif", "jxl")


def test_transparency_and_16_bit_are_never_blank(tmp_path: Path) -> None:
    clear = Image.new("RGBA", (60, 40), (255, 255, 255, 0))
    clear.paste((255, 255, 255, 255), (20, 10, 40, 30))  # a white logo on nothing
    assert to_rgb(clear).getpixel((5, 5)) == NEUTRAL and to_rgb(clear).getpixel((30, 20)) == (
        255, 255, 255)
    grey_alpha = Image.new("LA", (10, 10), (0, 0))
    assert to_rgb(grey_alpha).getpixel((0, 0)) == NEUTRAL
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    thumb = thumbnail_of(str(tmp_path / "deep.png"), 32, "jpeg", 95)
    values = np.asarray(Image.open(io.BytesIO(thumb["data"])).convert("L"))
    assert values.min() < 20 and values.max() > 235  # the whole ramp, not black


def test_a_display_p3_photo_is_converted_to_srgb(tmp_path: Path) -> None:
    colour = (200, 100, 50)
    Image.new("RGB", (32, 32), colour).save(tmp_path / "p3.jpg", quality=100,
                                           icc_profile=display_p3_profile())
    Image.new("RGB", (32, 32), colour).save(tmp_path / "plain.jpg", quality=100)
    with Image.open(tmp_path / "p3.jpg") as img:
        p3 = to_rgb(img).getpixel((16, 16))
    with Image.open(tmp_path / "plain.jpg") as img:
        plain = to_rgb(img).getpixel((16, 16))
    assert np.abs(np.subtract(plain, colour)).max() <= 2
    # P3 is wider: the same numbers mean a more saturated orange, so sRGB needs more red
    # and less green and blue to show it.
    assert p3[0] > plain[0] + 5 and p3[1] < plain[1] - 5, (p3, plain)


# ------------------------------------------------------------------ metadata
def test_metadata_reads_time_camera_exposure_and_place(tmp_path: Path) -> None:
    path = make_photo(tmp_path / "lisbon.jpg", 320, 240, exif=exif_for(
        "2023:07:14 18:03:22", "+01:00", "Apple", "iPhone 13", LISBON, "iPhone 13 back camera"))
    meta = read_meta(str(path))
    assert meta["taken_at"] == "2023-07-14T18:03:22" and meta["taken_offset"] == "+01:00"
    assert meta["taken_source"] == "exif"
    assert meta["camera"] == "Apple iPhone 13" and meta["lens"] == "iPhone 13 back camera"
    assert meta["f_number"] == pytest.approx(1.8) and meta["iso"] == 100
    assert meta["exposure"] == pytest.approx(1 / 120, rel=1e-3)
    assert meta["gps"] == pytest.approx([38.7223, -9.1393], abs=1e-3)
    assert "Lisbon" in meta["place"]

    canon = make_photo(tmp_path / "canon.jpg", 64, 48, exif=exif_for(make="Canon",
                                                                     model="Canon EOS R5"))
    meta = read_meta(str(canon))
    assert meta["camera"] == "Canon EOS R5" and meta["taken_source"] == "file-modified"
    assert meta["gps"] is None and meta["place"] is None


def test_xmp_ratings_come_from_sidecars_and_never_overwrite(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "IMG_1.jpg", 64, 48)
    (tmp_path / "IMG_1.jpg.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        '22-rdf-syntax-ns#"><rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'xmp:Rating="4"/></rdf:RDF></x:xmpmeta>')
    meta = read_meta(str(photo))
    assert meta["xmp_rating"] == 4
    store = Store(tmp_path / "data")
    adopted: dict[bytes, dict[str, object]] = {}
    try:
        sync = SidecarSync(store, "meta", False, lambda _: [],
                           adopt=lambda content, changes: adopted.setdefault(
                               content, {}).update(changes))
        sync.on_result("meta", b"a" * 32, {"xmp_rating": 4})
        assert adopted[b"a" * 32] == {"rating": 8.0}
        with store.write() as w:
            w.set_rating(b"b" * 32, 3.0, 1.0)
        sync.on_result("meta", b"b" * 32, {"xmp_rating": 5})  # rated here: that stays
        assert b"b" * 32 not in adopted
        # The XMP specification: 0 is "not rated", -1 is "rejected" (a decision, no rating).
        sync.on_result("meta", b"c" * 32, {"xmp_rating": 0})
        assert b"c" * 32 not in adopted
        sync.on_result("meta", b"d" * 32, {"xmp_rating": -1})
        assert adopted[b"d" * 32] == {"decision": "reject"}
        with store.write() as w:
            w.set_review(b"e" * 32, {"decision": "pick", "decided_at": 1.0, "seen_at": 1.0})
        sync.on_result("meta", b"e" * 32, {"xmp_rating": -1})  # decided here: that stays
        assert b"e" * 32 not in adopted
    finally:
        store.close()


# ------------------------------------------------------------ through the daemon
@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("photolib")
    lib = root / "library"
    lib.mkdir()
    make_photo(lib / "lisbon.jpg", 320, 240, seed=1, exif=exif_for(
        "2023:07:14 18:03:22", "+01:00", "Apple", "iPhone 13", LISBON))
    make_photo(lib / "winter.jpg", 320, 240, seed=2, exif=exif_for(
        "2021:01:05 09:00:00", None, "Canon", "Canon EOS R5"))
    make_photo(lib / "august.jpg", 320, 240, seed=3, exif=exif_for("2023:08:01 00:00:01"))
    register()
    Image.new("RGB", (100, 60), (10, 120, 200)).save(lib / "phone.heic", "HEIF")
    (lib / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (lib / "fake.dng").write_bytes(b"II*\0 not a raw file at all" * 10)
    (lib / "winter.jpg.xmp").write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/'
        '22-rdf-syntax-ns#"><rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        'xmp:Rating="5"/></rdf:RDF></x:xmpmeta>')
    port = free_port()
    config = write_config(root / "config.toml", {
        "library": {"paths": [str(lib)]}, "storage": {"data_dir": str(root / "data")},
        "server": {"port": port}, "pipeline": {"stages": ["hash", "meta", "thumbnail"]},
        "watcher": {"debounce_s": 0.2, "settle_s": 0.2}})
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    # one status document: two calls could read before and after the first scan
    wait_until(lambda: (f := daemon.status()["files"])["pending"] == 0 and f["total"] == 6,
               timeout=60)
    yield daemon, lib
    daemon.kill()


def paths(daemon: Daemon, q: str) -> list[str]:
    found = daemon.request("GET", "/api/images?" + urllib.parse.urlencode({"q": q}))
    return [Path(i["path"]).name for i in found["items"]]


def test_failed_files_are_counted_not_shown(served) -> None:  # type: ignore[no-untyped-def]
    daemon, _ = served
    found = daemon.request("GET", "/api/images")
    names = sorted(Path(i["path"]).name for i in found["items"])
    assert names == ["august.jpg", "lisbon.jpg", "phone.heic", "winter.jpg"]
    assert found["total"] == 4 and found["unreadable"] == 2
    failures = daemon.request("GET", "/api/failures")
    reasons = " ".join(str(f) for f in failures["items"])
    assert "fake.dng" in reasons and "LibRaw" in reasons


def test_date_camera_and_place_queries(served) -> None:  # type: ignore[no-untyped-def]
    daemon, _ = served
    assert paths(daemon, "date:2023-07") == ["lisbon.jpg"]
    assert sorted(paths(daemon, "year:2023")) == ["august.jpg", "lisbon.jpg"]
    assert paths(daemon, "date>2023-07 date<2024") == ["august.jpg"]
    assert paths(daemon, "before:2022") == ["winter.jpg"]
    assert paths(daemon, 'camera:"iPhone 13"') == ["lisbon.jpg"]
    assert paths(daemon, "camera:canon") == ["winter.jpg"]
    assert paths(daemon, "place:lisbon has:gps") == ["lisbon.jpg"]
    # newest first; the HEIC has no capture date, so it has its file's time (now): first
    assert paths(daemon, "date") == ["phone.heic", "august.jpg", "lisbon.jpg", "winter.jpg"]
    assert paths(daemon, "date order:asc")[0] == "winter.jpg"
    item = daemon.request("GET", "/api/images?" + urllib.parse.urlencode({"q": "has:gps"}))
    first = item["items"][0]
    assert first["camera"] == "Apple iPhone 13" and first["taken_offset"] == "+01:00"
    assert first["taken_source"] == "exif" and "Lisbon" in first["place"]
    status, body = http_error_of(daemon, "/api/images?q=date:2023-13")
    assert status == 400 and "YYYY-MM" in body["error"]


def test_sidecar_rating_arrives_with_the_photo(served) -> None:  # type: ignore[no-untyped-def]
    daemon, _ = served
    winter = next(i for i in daemon.request("GET", "/api/images")["items"]
                  if i["path"].endswith("winter.jpg"))
    assert winter["user_rating"] == 10.0  # five stars


def http_error_of(daemon: Daemon, path: str) -> tuple[int, Any]:
    from tests.helpers import http_error

    return http_error(daemon, "GET", path)
