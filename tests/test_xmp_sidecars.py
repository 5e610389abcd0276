"""Ratings out to XMP sidecars: what other tools wrote there survives, the photo is never
touched, a bad sidecar never costs the rating, and what we write our own reader reads back
(so a rating that leaves comes back the same)."""

from __future__ import annotations

import hashlib
import os
import tomllib
from pathlib import Path

from anagnorisisd.features.sidecars.sync import stars_to_rating
from anagnorisisd.imaging.exif import xmp_rating
from anagnorisisd.imaging.xmp_sidecar import stars, with_rating, write_rating
from tests.helpers import (
    Daemon,
    free_port,
    http_error,
    make_photo,
    run_cli,
    wait_until,
    write_config,
)

DIGIKAM = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:digiKam="http://www.digikam.org/ns/1.0/"
    xmp:Rating="2"
    digiKam:ColorLabel="3">
   <digiKam:TagsList><rdf:Seq><rdf:li>Holidays/Lisbon</rdf:li></rdf:Seq></digiKam:TagsList>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""
LIGHTROOM = """<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF
 xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""
 xmlns:crs="http://ns.adobe.com/camera-raw-settings/1.0/" crs:Exposure2012="+0.35">
 <xmp:Rating xmlns:xmp="http://ns.adobe.com/xap/1.0/">1</xmp:Rating></rdf:Description>
 </rdf:RDF></x:xmpmeta>"""
OLD_PREFIX = """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF
 xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""
 xmlns:xap="http://ns.adobe.com/xap/1.0/" xap:Rating="3"/></rdf:RDF></x:xmpmeta>"""
"""Older Adobe tools bind the same namespace to the prefix xap: it is the same property."""


def test_stars_round_halves_up_and_stay_in_range() -> None:
    # never 0 stars: XMP reads 0 as "not rated", and a 0 here is a rating
    assert [stars(v) for v in (0, 0.9, 1, 2, 7, 8.9, 9, 10)] == [1, 1, 1, 1, 4, 4, 5, 5]


def test_editing_keeps_everything_else_and_reads_back() -> None:
    edited = with_rating(DIGIKAM, 4)
    assert xmp_rating(edited.encode()) == 4
    assert edited.count("xmp:Rating") == 1
    assert 'digiKam:ColorLabel="3"' in edited and "Holidays/Lisbon" in edited
    lightroom = with_rating(LIGHTROOM, 5)
    assert xmp_rating(lightroom.encode()) == 5 and "<xmp:Rating>" not in lightroom
    assert 'xmlns:xmp="http://ns.adobe.com/xap/1.0/"' in lightroom  # declared where used
    assert 'crs:Exposure2012="+0.35"' in lightroom
    cleared = with_rating(DIGIKAM, None)
    assert xmp_rating(cleared.encode()) is None and "Holidays/Lisbon" in cleared
    assert xmp_rating(OLD_PREFIX.encode()) == 3  # xap: is xmp:
    assert xmp_rating(with_rating(OLD_PREFIX, None).encode()) is None
    assert with_rating(DIGIKAM, 2) == DIGIKAM  # nothing to change: not rewritten at all


def test_a_cleared_rating_leaves_no_sidecar_saying_otherwise(tmp_path: Path) -> None:
    """Both sidecar names (darktable's and Lightroom's) lose the rating on clearing."""
    photo = make_photo(tmp_path / "c.jpg", 64, 48)
    (tmp_path / "c.jpg.xmp").write_text(DIGIKAM)
    (tmp_path / "c.xmp").write_text(OLD_PREFIX)
    write_rating(str(photo), None)
    assert xmp_rating((tmp_path / "c.jpg.xmp").read_bytes()) is None
    assert xmp_rating((tmp_path / "c.xmp").read_bytes()) is None
    assert "Holidays/Lisbon" in (tmp_path / "c.jpg.xmp").read_text()


def test_xmp_zero_is_unrated_and_minus_one_is_rejected() -> None:
    packet = '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{}"><rdf:Description ' \
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="{}"/></rdf:RDF></x:xmpmeta>'
    rdf = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
    assert xmp_rating(packet.format(rdf, "0").encode()) == 0  # read as written: 0 ...
    assert stars_to_rating(0) is None  # ... which is "not rated", never a rating of 0
    assert stars_to_rating(-1) is None and stars_to_rating(1) == 2.0


def test_hostile_sidecars_are_refused_or_read_in_linear_time(tmp_path: Path) -> None:
    """Entities are never expanded, a DOCTYPE is refused, and 4 MB of whitespace (which a
    pattern-based editor took minutes over) is edited in well under a second."""
    import time

    from anagnorisisd.imaging.xmp_sidecar import SidecarError

    laughs = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">'
              + "".join(f'<!ENTITY {c} "{("&" + p + ";") * 10}">'
                        for p, c in zip("abcdefgh", "bcdefghi", strict=True))
              + ']><x:xmpmeta xmlns:x="adobe:ns:meta/">&i;</x:xmpmeta>')
    for hostile in (laughs, "<not xml", ""):
        try:
            with_rating(hostile, 3)
        except SidecarError:
            pass
        else:
            raise AssertionError(f"accepted {hostile[:40]!r}")
    spaces = DIGIKAM.replace("<rdf:Description", "<rdf:Description" + " " * (4 << 20), 1)
    started = time.perf_counter()
    assert xmp_rating(with_rating(spaces, 5).encode()) == 5
    assert time.perf_counter() - started < 2.0


def test_write_rating_never_touches_the_photo_and_refuses_links(tmp_path: Path) -> None:
    photo = make_photo(tmp_path / "a.jpg", 64, 48)
    before = hashlib.sha256(photo.read_bytes()).hexdigest()
    sidecar = write_rating(str(photo), 7)
    assert sidecar == tmp_path / "a.jpg.xmp" and xmp_rating(sidecar.read_bytes()) == 4
    assert hashlib.sha256(photo.read_bytes()).hexdigest() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp
    write_rating(str(photo), None)
    assert xmp_rating(sidecar.read_bytes()) is None

    other = make_photo(tmp_path / "b.jpg", 64, 48)
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours")
    os.symlink(outside, tmp_path / "b.jpg.xmp")
    try:
        write_rating(str(other), 8)
    except OSError as exc:
        assert "b.jpg.xmp" in str(exc)
    else:
        raise AssertionError("a sidecar that is a symlink was followed")
    assert outside.read_text() == "not yours"


def test_daemon_writes_sidecars_when_asked_and_export_writes_them_all(tmp_path: Path) -> None:
    lib = tmp_path / "library"
    make_photo(lib / "new.jpg", 120, 90, seed=1)
    make_photo(lib / "lr.jpg", 120, 90, seed=2)
    make_photo(lib / "locked.jpg", 120, 90, seed=3)
    (lib / "lr.xmp").write_text(LIGHTROOM)  # Lightroom's NAME.xmp is edited, not doubled
    os.symlink(tmp_path / "elsewhere.xmp", lib / "locked.jpg.xmp")
    port = free_port()
    config = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(lib)]}, "storage": {"data_dir": str(tmp_path / "data")},
        "server": {"port": port}, "pipeline": {"stages": ["hash", "meta", "thumbnail"]},
        "ratings": {"write_xmp": True}})
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    try:
        wait_until(lambda: daemon.status()["files"]["done"] == 3, timeout=60)
        ids = {Path(i["path"]).name: i["id"]
               for i in daemon.request("GET", "/api/images")["items"]}
        # lr.xmp said 1 star: it came in as a rating of 2 before anything was written
        assert daemon.request("GET", f"/api/images/{ids['lr.jpg']}")["user_rating"] == 2.0
        daemon.request("PUT", f"/api/images/{ids['new.jpg']}/rating", {"rating": 9})
        daemon.request("PUT", f"/api/images/{ids['lr.jpg']}/rating", {"rating": 6})
        status, _ = daemon.call("PUT", f"/api/images/{ids['locked.jpg']}/rating",
                                {"rating": 4})
        assert status == 200  # the sidecar could not be written; the rating stands
        assert xmp_rating((lib / "new.jpg.xmp").read_bytes()) == 5
        assert xmp_rating((lib / "lr.xmp").read_bytes()) == 3
        assert 'crs:Exposure2012="+0.35"' in (lib / "lr.xmp").read_text()
        assert not (lib / "lr.jpg.xmp").exists() and not (tmp_path / "elsewhere.xmp").exists()
        sidecars = daemon.status()["xmp_sidecars"]
        assert sidecars["written"] == 2 and sidecars["failed"] == 1
        assert "locked.jpg.xmp" in sidecars["last_error"]
        daemon.request("DELETE", f"/api/images/{ids['new.jpg']}/rating")
        assert xmp_rating((lib / "new.jpg.xmp").read_bytes()) is None
        assert daemon.request("GET", f"/api/images/{ids['locked.jpg']}")["user_rating"] == 4.0
    finally:
        daemon.kill()

    (lib / "new.jpg.xmp").unlink()
    (lib / "lr.xmp").write_text(LIGHTROOM)
    os.unlink(lib / "locked.jpg.xmp")
    done = run_cli("ratings", "export", "--xmp", "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert "wrote 2 XMP sidecars for 2 ratings" in done.stderr
    assert xmp_rating((lib / "lr.xmp").read_bytes()) == 3
    assert xmp_rating((lib / "locked.jpg.xmp").read_bytes()) == 2
    assert not (lib / "new.jpg.xmp").exists()  # cleared: nothing to write
    usage = run_cli("ratings", "export", "--config", str(config))
    assert usage.returncode == 2 and "needs a FILE (or --xmp)" in usage.stderr


def test_picks_rejects_and_labels_are_written_as_each_tool_reads_them() -> None:
    from anagnorisisd.imaging.xmp import read_flags
    from anagnorisisd.imaging.xmp_sidecar import EMPTY_SIDECAR, Flags, with_properties

    picked = with_properties(DIGIKAM, Flags(6, "pick", "red").properties())
    assert 'digiKam:PickLabel="3"' in picked and 'digiKam:ColorLabel="1"' in picked
    assert "Holidays/Lisbon" in picked  # digiKam's own tags stay
    assert read_flags(picked.encode()) == {"xmp_rating": 3, "xmp_pick": "pick",
                                           "xmp_label": "red"}
    rejected = with_properties(LIGHTROOM, Flags(6, "reject", "purple").properties())
    assert read_flags(rejected.encode()) == {"xmp_rating": -1, "xmp_pick": "reject",
                                             "xmp_label": "purple"}
    assert 'crs:Exposure2012="+0.35"' in rejected
    cleared = with_properties(rejected, Flags(6).properties())
    assert read_flags(cleared.encode()) == {"xmp_rating": 3, "xmp_pick": None,
                                            "xmp_label": None}
    fresh = with_properties(EMPTY_SIDECAR, Flags(None, None, "blue").properties())
    assert read_flags(fresh.encode())["xmp_label"] == "blue"
    assert with_properties(picked, Flags(6, "pick", "red").properties()) == picked


DARKTABLE = """<?xml version="1.0" encoding="UTF-8"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="XMP Core 4.4.0-Exiv2">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:darktable="http://darktable.sf.net/"
    xmp:Rating="4"
    darktable:xmp_version="5">
   <darktable:colorlabels><rdf:Seq><rdf:li>2</rdf:li></rdf:Seq></darktable:colorlabels>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""
"""As darktable 4 writes a sidecar: four stars and a green label."""


def test_labels_other_tools_wrote_are_read() -> None:
    from anagnorisisd.imaging.xmp import read_flags

    assert read_flags(DARKTABLE.encode()) == {"xmp_rating": 4, "xmp_pick": None,
                                              "xmp_label": "green"}
    assert read_flags(DIGIKAM.encode())["xmp_label"] == "yellow"  # digiKam's 3


def exiv2_reads(sidecar: Path) -> dict[str, str]:
    """The XMP properties exiv2 (Debian's exiv2 tool, built on Adobe's XMP toolkit
    conventions) reads from a sidecar: key -> value."""
    import shutil
    import subprocess

    import pytest

    if shutil.which("exiv2") is None:
        pytest.skip("Debian's exiv2 is not installed (tools/ensure_debian_tools.sh)")
    out = subprocess.run(["exiv2", "-PXkv", str(sidecar)], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return {line.split(None, 1)[0]: [*line.split(None, 1), ""][1].strip()
            for line in out.splitlines() if line.strip()}


def test_the_daemon_writes_picks_rejects_and_labels_and_exiv2_reads_them(
        tmp_path: Path) -> None:
    lib = tmp_path / "library"
    make_photo(lib / "shot.jpg", 120, 90, seed=4)
    make_photo(lib / "dt.jpg", 120, 90, seed=5)
    (lib / "dt.jpg.xmp").write_text(DARKTABLE)  # darktable's green label comes in
    config = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(lib)]}, "storage": {"data_dir": str(tmp_path / "data")},
        "server": {"port": free_port()}, "pipeline": {"stages": ["hash", "meta", "thumbnail"]},
        "ratings": {"write_xmp": True}})
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    try:
        wait_until(lambda: daemon.status()["files"]["done"] == 2, timeout=60)
        ids = {Path(i["path"]).name: i["id"]
               for i in daemon.request("GET", "/api/images")["items"]}
        shot, sidecar = ids["shot.jpg"], lib / "shot.jpg.xmp"
        daemon.request("PUT", f"/api/images/{shot}/rating", {"rating": 8})
        daemon.request("PUT", f"/api/images/{shot}/decision", {"decision": "pick"})
        labelled = daemon.request("PUT", f"/api/images/{shot}/label", {"label": "red"})
        assert labelled["label"] == "red" and labelled["decision"] == "pick"
        seen = exiv2_reads(sidecar)
        assert seen["Xmp.xmp.Rating"] == "4" and seen["Xmp.digiKam.PickLabel"] == "3"
        assert seen["Xmp.xmp.Label"] == "Red" and seen["Xmp.digiKam.ColorLabel"] == "1"
        assert seen["Xmp.darktable.colorlabels"] == "0"
        daemon.request("PUT", f"/api/images/{shot}/decision", {"decision": "reject"})
        seen = exiv2_reads(sidecar)
        assert seen["Xmp.xmp.Rating"] == "-1" and seen["Xmp.digiKam.PickLabel"] == "1"
        daemon.request("DELETE", f"/api/images/{shot}/decision")
        daemon.request("PUT", f"/api/images/{shot}/label", {"label": None})
        seen = exiv2_reads(sidecar)
        assert seen["Xmp.xmp.Rating"] == "4" and "Xmp.digiKam.PickLabel" not in seen
        assert not any("Label" in key or "colorlabels" in key for key in seen)
        assert http_error(daemon, "PUT", f"/api/images/{shot}/label", {"label": "teal"})[
            0] == 400
        # darktable's green label came in when the photo was indexed (answered as the
        # photo's review: clearing its no-decision changes nothing else)
        review = daemon.request("PUT", f"/api/images/{ids['dt.jpg']}/decision",
                                {"decision": None})
        assert review["label"] == "green"
    finally:
        daemon.kill()
