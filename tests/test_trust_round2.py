"""Trust, second round: bounds on what a request may store, connections that never finish a
request, library paths that hold the data directory or are links, sidecar leftovers, a cull
whose decisions change under it, a setting the install cannot honour, and a disk with no
room at start. Each attack is also in docs/reliability.md."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.helpers import Daemon, http_error, make_photo, small_disk, wait_until


@pytest.fixture
def daemon(make_config: Any, library_dir: Path) -> Any:
    for i in range(3):
        make_photo(library_dir / f"{i}.jpg", 160, 120, seed=i)
    config = make_config(library={"paths": [str(library_dir)]})
    d = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    try:
        wait_until(lambda: d.status()["files"]["done"] == 3, timeout=60)
        yield d
    finally:
        d.kill()


def test_seen_marks_only_for_images_of_the_library(daemon: Daemon) -> None:
    junk = [f"{i:064x}" for i in range(50)]
    code, body = http_error(daemon, "POST", "/api/cull/seen", {"ids": junk})
    assert code == 404 and "not an image of the library" in body["error"]
    ids = [i["id"] for i in daemon.request("GET", "/api/images")["items"]]
    assert daemon.request("POST", "/api/cull/seen", {"ids": ids})["marked"] == 3


def test_a_trash_from_a_plan_refuses_if_a_pick_came_in_between(daemon: Daemon) -> None:
    items = daemon.request("GET", "/api/images")["items"]
    for item in items[:2]:
        daemon.request("PUT", f"/api/images/{item['id']}/decision", {"decision": "reject"})
    plan = daemon.request("GET", "/api/cull/plan?what=rejects")
    assert plan["count"] == 2
    # the person changes their mind between the plan and the trash
    daemon.request("PUT", f"/api/images/{items[0]['id']}/decision", {"decision": "pick"})
    code, body = http_error(daemon, "POST", "/api/files/trash", {
        "files": [{"id": f["id"], "path": f["path"]} for f in plan["files"]],
        "generation": plan["generation"]})
    assert code == 409 and "changed since this plan" in body["error"]
    assert all(Path(f["path"]).exists() for f in plan["files"])  # nothing moved
    fresh = daemon.request("GET", "/api/cull/plan?what=rejects")
    assert fresh["count"] == 1 and fresh["generation"] != plan["generation"]


def test_long_headers_get_json_and_one_log_line(daemon: Daemon) -> None:
    before = daemon.log.read_text()
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", daemon.port), timeout=10) as s:
            s.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Junk: "
                      + b"a" * 10_000 + b"\r\n\r\n")
            answer = s.recv(4096).decode(errors="replace")
        assert answer.startswith("HTTP/1.") and " 400 " in answer.split("\r\n")[0]
        assert "application/json" in answer and '"error": "malformed request' in answer
    wait_until(lambda: daemon.log.read_text().count("refused a malformed request") -
               before.count("refused a malformed request") == 5, timeout=10)
    added = daemon.log.read_text()[len(before):]
    assert "Traceback" not in added
    assert len([line for line in added.splitlines() if line.strip()]) <= 5  # one line each


def test_a_half_sent_request_is_closed(daemon: Daemon) -> None:
    from anagnorisisd.http.server import HEADER_TIMEOUT_S

    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=60) as s:
        s.sendall(b"GET /api/status HTTP/1.1\r\nHost: 127.0")
        assert s.recv(100) == b""  # closed by the daemon, not by us
    assert time.monotonic() - started < HEADER_TIMEOUT_S + 20
    assert daemon.status()["files"]["total"] == 3  # and it serves on


def test_library_paths_that_hold_the_data_or_are_links_are_refused(
        daemon: Daemon, tmp_path: Path) -> None:
    code, body = http_error(daemon, "PUT", "/api/library", {"paths": [str(tmp_path)]})
    assert code == 400 and "holds the daemon's own data directory" in body["error"]
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    code, body = http_error(daemon, "PUT", "/api/library", {"paths": [str(tmp_path / "link")]})
    assert code == 400 and "a symlink" in body["error"]


def test_exif_text_is_capped_and_said_so(tmp_path: Path) -> None:
    from plugins.meta_stage import read_meta

    exif = Image.Exif()
    exif[0x0110] = "C" * 30_000  # Model
    photo = make_photo(tmp_path / "long.jpg", 64, 48, exif=exif)
    meta = read_meta(str(photo))
    assert meta["camera"] is not None and len(meta["camera"]) <= 200
    assert meta["camera"].endswith("…") and meta["capped"] == ["camera"]


def test_a_killed_sidecar_write_leaves_nothing_behind_after_the_next(tmp_path: Path) -> None:
    from anagnorisisd.imaging.xmp_sidecar import TEMP_MARK, write_rating

    photo = make_photo(tmp_path / "a.jpg", 64, 48)
    leftover = tmp_path / f".a.jpg.xmp{TEMP_MARK}k1ll3d"
    leftover.write_text("half a sidecar")
    write_rating(str(photo), 6)
    assert not leftover.exists() and (tmp_path / "a.jpg.xmp").exists()


def test_quantized_without_onnx_is_refused_in_one_line(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['onnx'] = None\n"
            "from anagnorisisd.cli.main import main\n"
            f"sys.exit(main(['status', '--config', {str(tmp_path / 'c.toml')!r}]))")
    (tmp_path / "c.toml").write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n'
                                     '[model]\nquantized = true\nauto_pull = false\n')
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().endswith("needs the onnx package ('pip install onnx' in the "
                                        "daemon's environment)")
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_disk_with_no_room_at_start_serves_read_only(make_config: Any, library_dir: Path,
                                                       tmp_path: Path) -> None:
    with small_disk(tmp_path / "disk", 96) as disk:
        for i in range(4):
            make_photo(library_dir / f"{i}.jpg", 160, 120, seed=i)
        config = make_config(library={"paths": [str(library_dir)]},
                             storage={"data_dir": str(disk / "data")})
        port = tomllib.loads(config.read_text())["server"]["port"]
        d = Daemon(config, port)
        try:
            wait_until(lambda: d.status()["files"]["done"] == 4, timeout=60)
            item = d.request("GET", "/api/images?per_page=1")["items"][0]
            d.request("PUT", f"/api/images/{item['id']}/rating", {"rating": 6})
        finally:
            assert d.stop() == 0
        with (disk / "filler").open("wb") as f:  # another program fills the disk
            try:
                while True:
                    f.write(b"\0" * (1 << 20))
            except OSError:
                pass
        (disk / "data" / "store.lmdb" / "lock.mdb").unlink()  # even the lock file is gone
        d = Daemon(config, port)
        try:
            status = d.status()
            assert "has no room" in status["store"]["read_only"]
            found = d.request("GET", "/api/images?per_page=10")
            assert found["total"] == 4
            assert d.request("GET", f"/api/images/{item['id']}")["user_rating"] == 6
            code, body = http_error(d, "PUT", f"/api/images/{item['id']}/rating",
                                    {"rating": 9})
            assert code == 507 and "has no room" in body["error"]
            import urllib.request

            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=30) as page:
                assert page.status == 200  # the panel
        finally:
            assert d.stop() == 0
