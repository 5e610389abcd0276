"""Places through the real daemon: near:/within: on the photos' own GPS; positions from a
real GPS track (gpxpy's own test files) by capture time, with and without the photo's own
zone and a camera clock offset; by hand; clusters for a map; hostile GPX refused at once."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import time
import tomllib
import urllib.parse
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from blake3 import blake3
from PIL import Image

from anagnorisisd.features.places.geotag import read_gpx
from tests.helpers import (
    REPO,
    Daemon,
    free_port,
    http_error,
    make_photo,
    run_cli,
    wait_until,
    write_config,
)
from tools.npm_files import PHONE_GPS

GPX = REPO / ".venv" / "gpx"
TRACK = GPX / "korita-zbevnica.gpx"  # 3-4 October 2010, near Rijeka, Croatia


def shot(path: Path, utc: float, zone_s: int | None = None, clock_s: int = 0,
         gps: tuple[float, float] | None = None, seed: int = 0) -> Path:
    """A camera JPEG taken at `utc`: its wall clock is UTC plus its zone (written as
    OffsetTimeOriginal when `zone_s` is given) plus `clock_s` (a camera set to another
    zone, or wrong); with GPS when given."""
    exif = Image.Exif()
    wall = utc + (zone_s or 0) + clock_s
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = dt.datetime.fromtimestamp(wall, dt.UTC).strftime("%Y:%m:%d %H:%M:%S")
    if zone_s is not None:
        sign = "+" if zone_s >= 0 else "-"
        sub[0x9011] = f"{sign}{abs(zone_s) // 3600:02d}:{abs(zone_s) % 3600 // 60:02d}"
    if gps is not None:
        lat, lon = gps
        ifd = exif.get_ifd(0x8825)
        ifd[1], ifd[3] = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
        ifd[2] = (abs(lat), 0.0, 0.0)
        ifd[4] = (abs(lon), 0.0, 0.0)
    return make_photo(path, 320, 240, seed=seed, exif=exif)


def idof(path: Path) -> str:
    return blake3(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if not TRACK.is_file():
        pytest.skip("gpxpy's test tracks missing (make setup-test: tools/gpx_files.py)")
    track = read_gpx(TRACK.read_bytes())
    root = tmp_path_factory.mktemp("places")
    library = root / "library"
    at = float(track.times[200])
    photos = {
        "lisbon": shot(library / "lisbon.jpg", at, gps=(38.7223, -9.1393), seed=1),
        "utc": shot(library / "utc.jpg", at + 4, seed=2),  # a camera set to UTC
        "zoned": shot(library / "zoned.jpg", float(track.times[300]) + 2, zone_s=7200,
                      seed=3),  # says its zone
        "wrong": shot(library / "wrong.jpg", float(track.times[400]), clock_s=3600,
                      seed=4),  # an hour ahead, zone unsaid
        "far": shot(library / "far.jpg", float(track.times[-1]) + 86400 * 30, seed=5),
    }
    photos["nodate"] = make_photo(library / "nodate.jpg", 320, 240, seed=6)  # mtime only
    # a real phone's photo with the position its phone wrote (a Nokia Lumia 820, 2013)
    photos["phone"] = library / "phone.jpg"
    shutil.copyfile(PHONE_GPS.fetch(REPO / ".venv" / "npm")[0], photos["phone"])
    config = write_config(root / "config.toml", {
        "library": {"paths": [str(library)]}, "storage": {"data_dir": str(root / "data")},
        "server": {"port": free_port()}, "watcher": {"debounce_s": 0.2, "settle_s": 0.2},
        "pipeline": {"stages": ["hash", "meta", "thumbnail"]},
        "model": {"auto_pull": False},
    })
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    wait_until(lambda: daemon.request("GET", "/api/images?per_page=1")["total"] == len(photos),
               timeout=90, interval=0.2)
    yield {"daemon": daemon, "photos": photos, "track": track, "config": config,
           "root": root}
    daemon.kill()


def unplace(daemon: Daemon, photos: dict[str, Path]) -> None:
    """No filled position left (whatever test ran before): each test starts from the
    photos' own."""
    for path in photos.values():
        http_error(daemon, "DELETE", f"/api/images/{idof(path)}/place")


def found(daemon: Daemon, q: str) -> set[str]:
    answer = daemon.request("GET", "/api/images?per_page=100&q=" + urllib.parse.quote(q))
    return {i["id"] for i in answer["items"]}


def test_near_and_within_find_a_photo_by_its_own_gps(world: dict[str, Any]) -> None:
    daemon, photos = world["daemon"], world["photos"]
    lisbon = idof(photos["lisbon"])
    assert found(daemon, "near:38.72,-9.14,5") == {lisbon}
    assert found(daemon, "near:38.72,-9.14") == {lisbon}  # 1 km by default
    assert found(daemon, "near:40.4,-3.7,100") == set()  # Madrid
    assert found(daemon, "within:-10,35,5,44") == {lisbon}
    assert found(daemon, "within:170,35,-5,44") == {lisbon}  # across the antimeridian
    phone = idof(photos["phone"])
    assert found(daemon, "has:gps") == {lisbon, phone}
    assert daemon.request("GET", f"/api/images/{lisbon}")["gps"] == {
        "lat": 38.7223, "lon": -9.1393, "source": "exif"}
    # 55°2'19.521" N 8°27'25.886" E, as the phone wrote it (exiv2 reads the same): the
    # north tip of Sylt, whose nearest town is List
    gps = daemon.request("GET", f"/api/images/{phone}")["gps"]
    assert gps["source"] == "exif" and abs(gps["lat"] - (55 + 2 / 60 + 19.521 / 3600)) < 1e-5
    assert abs(gps["lon"] - (8 + 27 / 60 + 25.886 / 3600)) < 1e-5
    assert found(daemon, "near:55.0389,8.4572,1") == {phone}
    assert found(daemon, "place:schleswig-holstein") == {phone}
    for bad in ("near:91,0", "near:38,-9,0", "near:a,b", "within:1,2,3",
                "within:0,50,10,40"):
        code, body = http_error(daemon, "GET", "/api/images?q=" + urllib.parse.quote(bad))
        assert code == 400 and body["token"] == bad, (bad, body)


def test_a_real_track_places_photos_by_their_time_in_utc(world: dict[str, Any]) -> None:
    daemon, photos, track = world["daemon"], world["photos"], world["track"]
    unplace(daemon, photos)
    data = TRACK.read_bytes()
    _status, dry = daemon.call("POST", "/api/geotag?max_gap_s=300", data)
    placed = {m["id"]: m for m in dry["matched"]}
    assert not dry["applied"] and dry["track"]["points"] == len(track.times)
    # UTC and the zoned shot match; the wrong clock does not without its offset; the
    # far one, the undated one (and the one with its own GPS, never a candidate) do not.
    assert set(placed) == {idof(photos["utc"]), idof(photos["zoned"])}
    assert dry["unmatched"] == 3
    nearest = placed[idof(photos["utc"])]
    i = 200
    assert nearest["gap_s"] <= 4 + 1e-6
    assert abs(nearest["lat"] - track.lat[i]) < 0.001 and abs(nearest["lon"] - track.lon[i]) < 0.001
    assert found(daemon, "has:gps") == {idof(photos["lisbon"]), idof(photos["phone"])}

    # The command, with the wrong camera's offset: it is placed (the zoned photo keeps its
    # own zone; the UTC one, read an hour off, lands elsewhere on the track), then again
    # without: the UTC one where it was.
    out = run_cli("geotag", str(TRACK), "--offset", "3600", "--config", str(world["config"]))
    assert out.returncode == 0 and "placed 3 photos" in out.stdout, (out.stdout, out.stderr)
    both = run_cli("geotag", str(TRACK), str(GPX / "cerknicko-jezero.gpx"), "--dry-run",
                   "--config", str(world["config"]))
    assert [line.split(":")[0] for line in both.stdout.splitlines()] == [
        "korita-zbevnica.gpx", "cerknicko-jezero.gpx"], both.stdout
    out = run_cli("geotag", str(TRACK), "--write-xmp", "--config", str(world["config"]))
    assert "placed 2 photos" in out.stdout, out.stdout
    utc = daemon.request("GET", f"/api/images/{idof(photos['utc'])}")["gps"]
    assert abs(utc["lat"] - track.lat[200]) < 0.001
    ids = {idof(photos[k]) for k in ("utc", "zoned", "wrong")}
    wait_until(lambda: found(daemon, "-has:gps") == {idof(photos["far"]),
                                                     idof(photos["nodate"])}, timeout=10)
    described = daemon.request("GET", f"/api/images/{idof(photos['utc'])}")
    assert described["gps"]["source"] == "gpx" and "hr" in described["place"].lower()
    assert found(daemon, f"near:{track.lat[200]},{track.lon[200]},1") >= {
        idof(photos["utc"])}
    assert ids <= found(daemon, "place:hr")
    # the photo with its own GPS was never a candidate and still says so
    assert daemon.request("GET", f"/api/images/{idof(photos['lisbon'])}")["gps"][
        "source"] == "exif"
    # --write-xmp: the last run's positions went to sidecars, and came back as the
    # photos' own ("xmp"); a sidecar deleted, the filled position stands again.
    sidecars = [photos[k].with_name(photos[k].name + ".xmp") for k in ("utc", "zoned")]
    wait_until(lambda: all(p.exists() for p in sidecars), timeout=15)
    utc_id = idof(photos["utc"])
    wait_until(lambda: daemon.request("GET", f"/api/images/{utc_id}")["gps"]["source"] == "xmp",
               timeout=30)
    for sidecar in sidecars:
        sidecar.unlink()
    wait_until(lambda: daemon.request("GET", f"/api/images/{utc_id}")["gps"]["source"] == "gpx",
               timeout=30)
    unplace(daemon, photos)


def test_a_position_by_hand_and_its_limits(world: dict[str, Any]) -> None:
    daemon, photos = world["daemon"], world["photos"]
    far = idof(photos["far"])
    assert daemon.request("PUT", f"/api/images/{far}/place", {"lat": 48.8566, "lon": 2.3522}
                          )["gps"] == {"lat": 48.8566, "lon": 2.3522, "source": "manual"}
    assert found(daemon, "place:paris") >= {far}
    code, body = http_error(daemon, "PUT", f"/api/images/{idof(photos['lisbon'])}/place",
                            {"lat": 1, "lon": 1})
    assert code == 409 and "never overwritten" in body["error"]
    for bad in ({"lat": 91, "lon": 0}, {"lat": "1", "lon": 0}, {"lat": True, "lon": 0}, []):
        assert http_error(daemon, "PUT", f"/api/images/{far}/place", bad)[0] == 400
    assert http_error(daemon, "PUT", f"/api/images/{'0' * 64}/place",
                      {"lat": 1, "lon": 1})[0] == 404
    # a track never moves a position given by hand
    daemon.call("POST", "/api/geotag?max_gap_s=86400&apply=true", TRACK.read_bytes())
    assert daemon.request("GET", f"/api/images/{far}")["gps"]["source"] == "manual"
    daemon.request("DELETE", f"/api/images/{far}/place")
    assert daemon.request("GET", f"/api/images/{far}")["gps"] is None
    assert http_error(daemon, "DELETE", f"/api/images/{far}/place")[0] == 404
    unplace(daemon, photos)


def test_hostile_tracks_are_refused_at_once(world: dict[str, Any]) -> None:
    daemon = world["daemon"]
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i else
                                                          b"&lol;") * 10) for i in range(9))
              + b']><gpx version="1.1"><wpt lat="1" lon="1"><name>&lol8;</name></wpt></gpx>')
    no_times = TRACK.read_text()
    import re
    no_times = re.sub(r"<time>[^<]*</time>", "", no_times)
    for body, what in ((laughs, "document type"), (b"\x00\xff not xml", "not a GPX"),
                       (no_times.encode(), "no times"), (b"", "not a GPX")):
        began = time.monotonic()
        code, answer = http_error(daemon, "POST", "/api/geotag", body)
        assert code == 422 and what in answer["error"], (what, answer)
        assert "\n" not in answer["error"] and time.monotonic() - began < 5
    big = b" " * ((50 << 20) + 1)
    assert http_error(daemon, "POST", "/api/geotag", big)[0] == 413
    bad = run_cli("geotag", str(world["root"] / "missing.gpx"), "--config",
                  str(world["config"]))
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1


def test_clusters_for_a_map_follow_the_search(world: dict[str, Any]) -> None:
    daemon, photos = world["daemon"], world["photos"]
    world_view = daemon.request("GET", "/api/places?zoom=2")
    counts = sorted(c["count"] for c in world_view["clusters"])
    assert sum(counts) == world_view["total"] >= 1
    lisbon = next(c for c in world_view["clusters"]
                  if abs(c["lat"] - 38.72) < 1 and abs(c["lon"] + 9.14) < 1)
    assert lisbon["count"] == 1 and lisbon["cover"] == idof(photos["lisbon"])
    west, south, east, north = lisbon["bbox"]
    assert west <= -9.1393 <= east and south <= 38.7223 <= north
    only = daemon.request("GET", "/api/places?zoom=2&q=" + urllib.parse.quote("place:lisbon"))
    assert [c["count"] for c in only["clusters"]] == [1]
    boxed = daemon.request("GET", "/api/places?zoom=10&bbox=-10,38,-9,39")
    assert boxed["total"] == 1
    for bad in ("bbox=1,2,3", "bbox=0,50,10,40", "zoom=99", "bbox=a,b,c,d",
                "zoom=22"):  # the whole world at street level: too many cells
        assert http_error(daemon, "GET", f"/api/places?{bad}")[0] == 400
    code, body = http_error(daemon, "GET", "/api/places?q=" + urllib.parse.quote("rating>>1"))
    assert code == 400 and "token" in body
    assert np.isfinite(lisbon["lat"])


def test_the_map_page_offline_in_chromium(world: dict[str, Any]) -> None:
    """Clusters on Natural Earth's outlines with no request leaving the machine; a click
    opens the photos there; the map follows a search; no serious axe violation."""
    from tests.helpers import chromium_page
    from tests.test_web_ui import serious_violations

    daemon, photos = world["daemon"], world["photos"]
    base = f"http://127.0.0.1:{daemon.port}"
    with chromium_page() as page:
        asked: list[str] = []
        page.on("request", lambda request: asked.append(request.url))
        page.goto(base + "/map")
        page.get_by_test_id("map-note").filter(has_text=" here, in ").wait_for()
        assert page.locator(".map-cluster").count() >= 1
        assert page.locator("#places-map path.leaflet-interactive, #places-map svg path"
                            ).count() > 100  # the countries' outlines
        assert serious_violations(page) == []
        assert [u for u in asked if not u.startswith(base)] == []  # nothing left the machine
        page.goto(base + "/map?q=" + urllib.parse.quote("place:lisbon"))
        page.get_by_test_id("map-note").filter(has_text="1 photo here, in 1 place").wait_for()
        page.locator(".map-cluster").first.click()
        page.wait_for_url("**/?q=within*")
        page.get_by_test_id("result-tile").first.wait_for()
        tiles = page.get_by_test_id("result-tile")
        assert tiles.count() == 1 and tiles.first.get_attribute("data-id") == idof(
            photos["lisbon"])
        # from a search on the Images page to the map of it
        page.goto(base + "/?q=" + urllib.parse.quote("place:lisbon"))
        page.get_by_test_id("result-tile").first.wait_for()
        page.get_by_test_id("on-the-map").click()
        page.wait_for_url("**/map?q=place*")
        page.get_by_test_id("map-note").filter(has_text="1 photo here").wait_for()
        assert [u for u in asked if not u.startswith(base)] == []

        # By hand: choose a photo without a position, click the map; drag another onto it.
        unplace(daemon, photos)
        page.goto(base + "/map?q=" + urllib.parse.quote("-has:gps"))
        far, nodate = idof(photos["far"]), idof(photos["nodate"])
        page.locator(f'[data-testid=map-unplaced][data-id="{far}"]').click()
        page.get_by_test_id("map").click(position={"x": 300, "y": 200})
        wait_until(lambda: (daemon.request("GET", f"/api/images/{far}")["gps"] or {}).get(
            "source") == "manual", timeout=15)
        page.locator(f'[data-testid=map-unplaced][data-id="{far}"]').wait_for(state="detached")
        page.locator(f'[data-testid=map-unplaced][data-id="{nodate}"]').drag_to(
            page.get_by_test_id("map"), target_position={"x": 500, "y": 250})
        wait_until(lambda: (daemon.request("GET", f"/api/images/{nodate}")["gps"] or {}).get(
            "source") == "manual", timeout=15)
        assert serious_violations(page) == []
        unplace(daemon, photos)


def camera_shot(path: Path, utc: float, model: str, gps: tuple[float, float] | None = None,
                seed: int = 0) -> Path:
    """shot() with the camera's make and model in IFD0."""
    made = shot(path, utc, gps=gps, seed=seed)
    with Image.open(made) as img:
        exif = img.getexif()
        exif[0x010F], exif[0x0110] = "Canon", model
        img.save(path, "JPEG", quality=90, exif=exif)
    return path


def test_neighbouring_shots_propose_a_position_accepted_in_chromium(tmp_path: Path) -> None:
    """The same camera's placed shots a minute before and after: the midpoint proposed;
    an hour away or another camera: nothing. Accepted from the Map page in one click."""
    from tests.helpers import chromium_page
    from tests.test_web_ui import serious_violations

    library = tmp_path / "library"
    t0 = dt.datetime(2024, 6, 1, 10, tzinfo=dt.UTC).timestamp()
    made = {
        "a": camera_shot(library / "a.jpg", t0, "EOS R5", gps=(38.70, -9.10), seed=1),
        "b": camera_shot(library / "b.jpg", t0 + 60, "EOS R5", seed=2),
        "c": camera_shot(library / "c.jpg", t0 + 120, "EOS R5", gps=(38.72, -9.14), seed=3),
        "d": camera_shot(library / "d.jpg", t0 + 3600, "EOS R5", seed=4),
        "e": camera_shot(library / "e.jpg", t0 + 60, "EOS 5D", seed=5),
    }
    config = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(library)]}, "storage": {"data_dir": str(tmp_path / "data")},
        "server": {"port": free_port()}, "watcher": {"debounce_s": 0.2, "settle_s": 0.2},
        "pipeline": {"stages": ["hash", "meta", "thumbnail"]}, "model": {"auto_pull": False},
        "ratings": {"write_xmp": True}})
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    try:
        wait_until(lambda: daemon.request("GET", "/api/images?per_page=1")["total"] == 5,
                   timeout=60, interval=0.2)
        answer = daemon.request("GET", "/api/places/proposals")
        assert answer["count"] == 1
        proposal = answer["proposals"][0]
        assert proposal["id"] == idof(made["b"]) and proposal["gap_s"] == 60
        assert abs(proposal["lat"] - 38.71) < 1e-4 and abs(proposal["lon"] + 9.12) < 1e-4
        assert set(proposal["from"]) == {idof(made["a"]), idof(made["c"])}
        assert daemon.request("GET", "/api/places/proposals?max_gap_s=3600")["count"] == 2
        code, _body = http_error(daemon, "POST", "/api/places/proposals", {"ids": "x"})
        assert code == 400
        base = f"http://127.0.0.1:{daemon.port}"
        with chromium_page() as page:
            page.goto(base + "/map")
            page.get_by_test_id("accept-proposals").click()
            page.get_by_text("Placed 1 photo where their neighbours were").wait_for()
            page.get_by_test_id("accept-proposals").wait_for(state="detached")
            assert serious_violations(page) == []
        assert daemon.request("GET", "/api/places/proposals")["count"] == 0
        # Out to the sidecar, where exiv2 (what digiKam reads XMP with) reads it; read back
        # by the daemon as the photo's own position from then on.
        sidecar = library / "b.jpg.xmp"
        wait_until(sidecar.exists, timeout=15)
        if shutil.which("exiv2"):
            out = subprocess.run(["exiv2", "-K", "Xmp.exif.GPSLatitude", "-K",
                                  "Xmp.exif.GPSLongitude", "-Pkv", str(sidecar)],
                                 capture_output=True, text=True, timeout=60).stdout
            said = dict(line.split(None, 1) for line in out.strip().splitlines())
            assert said["Xmp.exif.GPSLatitude"].startswith("38,42.6")
            assert said["Xmp.exif.GPSLongitude"].startswith("9,7.2") and said[
                "Xmp.exif.GPSLongitude"].endswith("W")
        wait_until(lambda: daemon.request("GET", f"/api/images/{idof(made['b'])}")["gps"][
            "source"] == "xmp", timeout=30)
        assert daemon.status()["places"]["xmp"]["written"] == 1
    finally:
        daemon.kill()
