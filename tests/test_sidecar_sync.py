"""Other tools' sidecars survive the daemon: exiv2 (the library digiKam reads and writes XMP
with) edits sidecars after indexing, under both names, while the daemon runs; every write
path here (rating, decision, label, concept answer) then changes only its own properties,
a change there is taken in within seconds, and where the two disagree the newer wins and
status counts it."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from anagnorisisd.imaging.xmp_sidecar import EMPTY_SIDECAR
from tests.helpers import Daemon, free_port, make_photo, wait_until, write_config

pytestmark = pytest.mark.skipif(shutil.which("exiv2") is None,
                                reason="exiv2 missing (tools/ensure_debian_tools.sh)")


def exiv2(*args: str) -> None:
    subprocess.run(["exiv2", *args], check=True, capture_output=True, timeout=60)


def read(sidecar: Path) -> dict[str, str]:
    """What exiv2 reads in a sidecar: its rating, labels and keywords."""
    keys = ("Xmp.xmp.Rating", "Xmp.xmp.Label", "Xmp.dc.subject", "Xmp.digiKam.PickLabel",
            "Xmp.digiKam.ColorLabel")
    out = subprocess.run(["exiv2", *[a for k in keys for a in ("-K", k)], "-Pkv",
                          str(sidecar)], capture_output=True, text=True, timeout=60).stdout
    return {line.split(None, 1)[0]: line.split(None, 1)[1].strip()
            for line in out.splitlines() if len(line.split(None, 1)) == 2}


def another_tool_writes(sidecar: Path, *edits: str) -> None:
    """digiKam's way: exiv2 edits the sidecar (made first, as exiv2 edits but never makes
    an XMP file), the way it would after indexing."""
    if not sidecar.exists():
        sidecar.write_text(EMPTY_SIDECAR)
    exiv2(*[a for e in edits for a in ("-M", e)], str(sidecar))


@pytest.fixture
def library(tmp_path: Path) -> Any:
    lib = tmp_path / "library"
    for n, name in enumerate(("dk.jpg", "lr.jpg", "own.jpg")):
        make_photo(lib / name, 160, 120, seed=40 + n)
    # own.jpg carries its own keywords and rating inside (as a camera app or an older tool
    # wrote them): no sidecar yet.
    exiv2("-M", "set Xmp.dc.subject XmpBag portrait", "-M", "set Xmp.dc.subject XmpBag studio",
          "-M", "set Xmp.xmp.Rating 3", str(lib / "own.jpg"))
    config = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(lib)]}, "storage": {"data_dir": str(tmp_path / "data")},
        "server": {"port": free_port()}, "pipeline": {"stages": ["hash", "meta", "thumbnail"]},
        "watcher": {"debounce_s": 0.2, "settle_s": 0.2},
        "ratings": {"write_xmp": True}})
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    try:
        wait_until(lambda: daemon.status()["files"]["done"] == 3, timeout=60)
        ids = {Path(i["path"]).name: i["id"]
               for i in daemon.request("GET", "/api/images")["items"]}
        yield daemon, lib, ids
    finally:
        daemon.kill()


def image(daemon: Daemon, content: str) -> dict[str, Any]:
    return dict(daemon.request("GET", f"/api/images/{content}"))


def tags(daemon: Daemon, content: str) -> set[str]:
    return {t["name"] for t in image(daemon, content).get("tags", [])}


def test_a_sidecar_written_after_indexing_is_taken_in_and_never_overwritten(library: Any
                                                                            ) -> None:
    daemon, lib, ids = library
    for photo, sidecar in (("dk.jpg", lib / "dk.jpg.xmp"), ("lr.jpg", lib / "lr.xmp")):
        another_tool_writes(sidecar, "set Xmp.xmp.Rating 5", "set Xmp.xmp.Label Green",
                            "set Xmp.dc.subject XmpBag Holiday")
        # Watched like the photo itself: in the API within seconds, no rescan needed.
        wait_until(lambda p=photo: image(daemon, ids[p])["user_rating"] == 10.0, timeout=20)
        assert "Holiday" in tags(daemon, ids[photo])
        wait_until(lambda p=photo: daemon.request(
            "GET", f"/api/images/{ids[p]}")["label"] == "green", timeout=20)
    holiday = daemon.request("POST", "/api/concepts", {"name": "Holiday"})["id"]
    zebra = daemon.request("POST", "/api/concepts", {"name": "Zebra"})["id"]
    assert holiday != zebra
    for photo, sidecar in (("dk.jpg", lib / "dk.jpg.xmp"), ("lr.jpg", lib / "lr.xmp")):
        daemon.request("POST", f"/api/concepts/{zebra}/answers",
                       {"images": [ids[photo]], "answer": "yes"})
        # The concept's write kept the other tool's rating, label and keyword (a concept
        # named like it, not confirmed here, takes nothing out).
        assert read(sidecar) == {"Xmp.xmp.Rating": "5", "Xmp.xmp.Label": "Green",
                                 "Xmp.dc.subject": "Holiday, Zebra"}, photo
        daemon.request("PUT", f"/api/images/{ids[photo]}/rating", {"rating": 7})
        daemon.request("PUT", f"/api/images/{ids[photo]}/decision", {"decision": "pick"})
        assert read(sidecar) == {"Xmp.xmp.Rating": "4", "Xmp.xmp.Label": "Green",
                                 "Xmp.dc.subject": "Holiday, Zebra",
                                 "Xmp.digiKam.PickLabel": "3"}, photo
        daemon.request("POST", f"/api/concepts/{zebra}/answers",
                       {"images": [ids[photo]], "answer": "no"})
        assert read(sidecar)["Xmp.dc.subject"] == "Holiday", photo  # only its own goes
    assert not (lib / "lr.jpg.xmp").exists()  # Lightroom's sidecar edited, never doubled
    # Our own writes are not taken for another tool's: the ratings stand as given here.
    time.sleep(1.0)
    assert image(daemon, ids["dk.jpg"])["user_rating"] == 7.0
    assert daemon.status()["xmp_sidecars"]["conflicts"] == 0


def test_the_newer_of_the_two_wins_and_status_says_so(library: Any) -> None:
    daemon, lib, ids = library
    sidecar = lib / "dk.jpg.xmp"
    daemon.request("PUT", f"/api/images/{ids['dk.jpg']}/rating", {"rating": 6})
    daemon.request("PUT", f"/api/images/{ids['dk.jpg']}/label", {"label": "red"})
    assert read(sidecar)["Xmp.xmp.Rating"] == "3"
    # digiKam, later: 1 star. Newer than the rating made here, so it wins here too.
    time.sleep(0.05)
    another_tool_writes(sidecar, "set Xmp.xmp.Rating 1")
    wait_until(lambda: image(daemon, ids["dk.jpg"])["user_rating"] == 2.0, timeout=20)
    assert daemon.request("GET", f"/api/images/{ids['dk.jpg']}")["label"] == "red"
    status = daemon.status()["xmp_sidecars"]
    assert status["conflicts"] == 1 and "the sidecar's is newer" in status["last_conflict"]
    # A sidecar that changes but says it was written before the person's change here (a
    # copy restored from a backup): the person's rating stands and goes back out.
    daemon.request("PUT", f"/api/images/{ids['dk.jpg']}/rating", {"rating": 10})
    another_tool_writes(sidecar, "set Xmp.xmp.Rating 2")
    past = time.time() - 3600
    os.utime(sidecar, (past, past))
    wait_until(lambda: daemon.status()["xmp_sidecars"]["conflicts"] == 2, timeout=20)
    assert "the one made here is newer" in daemon.status()["xmp_sidecars"]["last_conflict"]
    assert image(daemon, ids["dk.jpg"])["user_rating"] == 10.0
    wait_until(lambda: read(sidecar).get("Xmp.xmp.Rating") == "5", timeout=20)
    assert read(sidecar)["Xmp.xmp.Label"] == "Red"


def test_a_new_sidecar_starts_from_the_photos_own_keywords_and_rating(library: Any) -> None:
    daemon, lib, ids = library
    own = ids["own.jpg"]
    assert image(daemon, own)["user_rating"] == 6.0  # its embedded 3 stars
    assert {"portrait", "studio"} <= tags(daemon, own)
    waterfall = daemon.request("POST", "/api/concepts", {"name": "waterfall"})["id"]
    daemon.request("POST", f"/api/concepts/{waterfall}/answers",
                   {"images": [own], "answer": "yes"})
    assert read(lib / "own.jpg.xmp") == {"Xmp.xmp.Rating": "3",
                                         "Xmp.dc.subject": "portrait, studio, waterfall"}
    daemon.request("PUT", f"/api/images/{own}/label", {"label": "blue"})
    assert read(lib / "own.jpg.xmp")["Xmp.dc.subject"] == "portrait, studio, waterfall"
