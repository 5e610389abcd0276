"""What a new user met in their first hour, each held by a test that failed before its fix:
photos the browser cannot decode, a grid read while the catalog loads, queries that named
formats as people say them, CLI lines and exits, config errors, a taken port, and a cull
that would have trusted an unfit model's cosine alone."""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import sys
import threading
import tomllib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from anagnorisisd.app.shapes import make_library
from anagnorisisd.ml.manager import shipped_model_dir
from anagnorisisd.search.catalog import Catalog
from tests.helpers import (
    REPO,
    Daemon,
    browserless_photos,
    free_port,
    http_error,
    make_photo,
    run_cli,
    taken_at,
    wait_until,
    write_config,
)


# ------------------------------------------------------------------ a small library
@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("first-hour")
    lib = root / "library"
    browserless_photos(lib)
    make_photo(lib / "small.jpg", 320, 240, seed=4)
    make_photo(lib / "big.jpg", 3000, 2000, seed=5)
    config = write_config(root / "config.toml", {
        "library": {"paths": [str(lib)]},
        "storage": {"data_dir": str(root / "data")}, "server": {"port": free_port()},
        "pipeline": {"stages": ["hash", "meta", "thumbnail"]}})
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    try:
        wait_until(lambda: daemon.status()["files"]["done"] == 5, timeout=90, interval=0.2)
        ids = {Path(i["path"]).name: i["id"]
               for i in daemon.request("GET", "/api/images?per_page=10")["items"]}
        yield {"daemon": daemon, "root": root, "lib": lib, "ids": ids, "config": config}
    finally:
        daemon.kill()


def fetch(daemon: Daemon, path: str) -> tuple[int, str, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{daemon.port}{path}", timeout=60) as r:
            return r.status, r.headers["Content-Type"], r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def test_photos_browsers_cannot_decode_are_served_as_jpeg_renditions(served: Any) -> None:
    daemon, ids, lib = served["daemon"], served["ids"], served["lib"]
    assert set(ids) == {"phone.heic", "named-wrong.jpg", "scan.tif", "small.jpg", "big.jpg"}
    for name in ("phone.heic", "named-wrong.jpg", "scan.tif"):
        code, mime, body = fetch(daemon, f"/api/images/{ids[name]}/preview?size=1000")
        assert code == 200 and mime == "image/jpeg", (name, code, body[:200])
        with Image.open(io.BytesIO(body)) as img:
            assert img.format == "JPEG" and img.size == (800, 600)
    # A browser format no larger than asked: the original, byte for byte.
    code, mime, body = fetch(daemon, f"/api/images/{ids['small.jpg']}/preview?size=640")
    assert code == 200 and body == (lib / "small.jpg").read_bytes()
    # A 6 MP JPEG for a 640-pixel view: a rendition, cached by content and size.
    code, mime, body = fetch(daemon, f"/api/images/{ids['big.jpg']}/preview?size=600")
    with Image.open(io.BytesIO(body)) as img:
        assert max(img.size) == 640
    cached = served["root"] / "data" / "previews" / f"{ids['big.jpg']}-640.jpg"
    assert cached.read_bytes() == body
    for bad in ("size=abc", "size=0", "size=-3", "size=1&size=2"):
        code, _, body = fetch(daemon, f"/api/images/{ids['big.jpg']}/preview?{bad}")
        assert code == 400 and b"size" in body, bad
    assert fetch(daemon, "/api/images/" + "0" * 64 + "/preview")[0] == 404


def test_format_names_as_people_say_them(served: Any) -> None:
    daemon = served["daemon"]

    def names(q: str) -> set[str]:
        items = daemon.request("GET", f"/api/images?q={q}&per_page=10")["items"]
        return {Path(i["path"]).name for i in items}

    assert names("format=heic") == {"phone.heic", "named-wrong.jpg"} == names("format=heif")
    assert names("format=tif") == {"scan.tif"}
    assert names("format=jpg") == {"small.jpg", "big.jpg"}


def test_similar_to_an_unknown_id_is_404(served: Any) -> None:
    code, body = http_error(served["daemon"], "GET", "/api/images?q=similar:" + "ab" * 32)
    assert code == 404 and "no image" in body["error"]


# --------------------------------------------------------------- catalog loading
def test_results_heard_while_the_catalog_loads_are_kept(tmp_path: Path) -> None:
    """The daemon loads its catalog while the pipeline runs. A thumbnail recorded after the
    load read its content used to be lost (a tile without size or picture until restart)."""
    from anagnorisisd.store.database import Store
    from anagnorisisd.store.snapshot import Snapshot

    store = Store(tmp_path / "data")
    try:
        content = b"c" * 32
        catalog = Catalog(store)
        catalog.on_content([content], [])
        assert not catalog.columns().ready.any()  # found by the hash stage: no tile yet
        reading, release = threading.Event(), threading.Event()
        real_live = Snapshot.live_hashes  # the load reads through one snapshot

        def slow_live(self: Snapshot) -> Any:
            reading.set()
            release.wait(10)
            yield content

        Snapshot.live_hashes = slow_live  # type: ignore[method-assign]
        try:
            loader = threading.Thread(target=catalog.load)
            loader.start()
            reading.wait(10)
            catalog.on_result("meta", content, {"width": 4, "height": 3, "file_size": 9,
                                                "format": "jpeg"})
            catalog.on_result("thumbnail", content, {"data": b"", "mime": "image/jpeg"})
            release.set()
            loader.join(10)
        finally:
            Snapshot.live_hashes = real_live  # type: ignore[method-assign]
        entry = catalog.get(content)
        assert entry is not None and entry.width == 4 and entry.ready
        assert catalog.columns().ready.all()
    finally:
        store.close()


# ----------------------------------------------------------------------- CLI
def test_cli_says_what_went_wrong_in_plain_lines(served: Any, tmp_path: Path) -> None:
    config = str(served["config"])
    outside = run_cli("rate", "/etc/passwd", "5", "--config", config)
    assert outside.returncode == 1 and "is not in the library" in outside.stderr
    missing = run_cli("index", "/no/such/dir", cwd=tmp_path)
    assert missing.returncode == 2, missing.stderr
    assert missing.stderr.strip() == "anagnorisisd: /no/such/dir does not exist or is not a " \
        "directory"
    one = run_cli("search", "format=tif", "--config", config)
    assert one.returncode == 0 and one.stdout.splitlines()[0] == "1 result"
    header = one.stdout.splitlines()[1]
    assert header.split() == ["size", "bytes", "path"]  # no score column without scores
    piped = subprocess.run(f"{sys.executable} -m anagnorisisd status --json --config {config}"
                           " | head -c 10", shell=True, capture_output=True, text=True,
                           cwd=REPO, timeout=60)
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr


def test_config_errors_name_the_file_and_status_checks_before_asking(served: Any,
                                                                   tmp_path: Path) -> None:
    good = tomllib.loads(served["config"].read_text())
    typo = tmp_path / "typo.toml"
    write_config(typo, {**good, "stages.thumbnail": {"sizee": 320}})
    done = run_cli("status", "--config", str(typo))  # a daemon answers on that port
    assert done.returncode == 2
    assert done.stderr.strip() == (f"anagnorisisd: config error: {typo}: unknown key "
                                   "[stages.thumbnail] sizee")
    wrong_type = tmp_path / "type.toml"
    write_config(wrong_type, {"storage": {"data_dir": str(tmp_path / "data")},
                              "stages.thumbnail": {"size": "big"}})
    done = run_cli("index", "--config", str(wrong_type))
    assert done.returncode == 2 and str(wrong_type) in done.stderr
    assert "config: [stages" not in done.stderr


def test_serve_on_a_taken_port_ends_on_its_error_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = write_config(tmp_path / "config.toml", {
            "library": {"paths": [str(tmp_path / "not-there")]},
            "storage": {"data_dir": str(tmp_path / "data")}, "server": {"port": port}})
        done = run_cli("serve", "--config", str(config), timeout=60)
    assert done.returncode == 1
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert lines[-1].startswith(f"anagnorisisd: cannot listen on 127.0.0.1:{port}"), lines


def test_a_missing_library_path_is_warned_about(tmp_path: Path) -> None:
    config = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(tmp_path / "not-there")]},
        "storage": {"data_dir": str(tmp_path / "data")}, "server": {"port": free_port()},
        "pipeline": {"stages": ["hash", "meta"]}})
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    try:
        wait_until(lambda: "does not exist" in daemon.log.read_text(), timeout=30)
        assert str(tmp_path / "not-there") in daemon.log.read_text()
    finally:
        daemon.kill()


# ------------------------------------------------------------------------ cull
def test_a_cull_never_rests_on_the_models_cosine_alone(tmp_path: Path) -> None:
    """Two different drawings of one class, taken two seconds apart: the shipped model puts
    them in one stack. Their pixels differ, so nothing is trashed until the person rejects
    one. And the shipped model says, wherever it is used, that it is not fit for photos."""
    import datetime as dt

    scenes = make_library(tmp_path / "drawn", 64, seed=7)
    by_label: dict[str, list[Path]] = {}
    for path, scene in scenes:
        by_label.setdefault(scene.label, []).append(path)
    pair = next(paths[:2] for paths in by_label.values() if len(paths) >= 2)
    lib = tmp_path / "library"
    lib.mkdir()
    shots = []
    for i, path in enumerate(pair):
        shots.append(Path(shutil.copy(path, lib / f"shot-{i}.jpg")))
        when = dt.datetime(2024, 6, 1, 9, 0, 2 * i, tzinfo=dt.UTC).timestamp()
        taken_at(shots[-1], when)
    shutil.copytree(shipped_model_dir("shapes-clip-mini"),
                    tmp_path / "data" / "models" / "shapes-clip-mini")
    config = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(lib)]}, "storage": {"data_dir": str(tmp_path / "data")},
        "server": {"port": free_port()},
        "model": {"name": "shapes-clip-mini", "auto_pull": False},
        "index": {"check_interval_s": 1, "min_rebuild_interval_s": 0},
        "stacks": {"gap_s": 10, "similarity": 0.5}})
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"],
                    env={"XDG_DATA_HOME": str(tmp_path / "xdg")})
    try:
        assert "not photos" in (daemon.status()["model"]["warning"] or "") or wait_until(
            lambda: "not photos" in (daemon.status()["model"]["warning"] or ""), timeout=30)
        stack = wait_until(lambda: (s := daemon.request("GET", "/api/stacks"))["stacks"]
                           and s["stacks"][0], timeout=60, interval=0.2)
        assert "not photos" in daemon.request("GET", "/api/stacks")["notice"]
        other = next(m for m in stack["members"] if m != stack["keeper"])
        assert stack["alike"] == {stack["keeper"]: True, other: False}
        dry = run_cli("cull", "--dry-run", "--config", str(config))
        assert dry.returncode == 0 and "would trash" not in dry.stdout, dry.stdout
        assert "1 photo the model grouped stays" in dry.stderr and "not photos" in dry.stderr
        daemon.request("POST", "/api/cull/seen", {"ids": stack["members"]})
        plan = daemon.request("GET", "/api/cull/plan?what=non-keepers")
        assert plan["count"] == 0 and plan["held_back"] == [other]
        daemon.request("PUT", f"/api/images/{other}/decision", {"decision": "reject"})
        plan = daemon.request("GET", "/api/cull/plan?what=non-keepers")
        assert plan["count"] == 1 and plan["files"][0]["id"] == other  # the person said so
        listed = run_cli("model", "list", "--config", str(config))
        assert "warning:" in listed.stdout and "not photos" in listed.stdout
    finally:
        daemon.kill()
