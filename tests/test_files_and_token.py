"""Cleaning up through the API (trash, move) and the token that guards /api."""

from __future__ import annotations

import tomllib
import urllib.error
import urllib.request
from pathlib import Path

from tests.helpers import Daemon, http_error, make_photo, run_cli, wait_until


def start(make_config, **sections) -> Daemon:  # type: ignore[no-untyped-def]
    config = make_config(**sections)
    settings = tomllib.loads(config.read_text())
    return Daemon(config, settings["server"]["port"], env={"XDG_DATA_HOME": str(
        config.parent / "xdg")}, token=settings.get("server", {}).get("token", ""))


def test_trash_and_move_only_touch_files_the_store_knows(make_config, library_dir: Path,
                                                         tmp_path: Path) -> None:
    for i in range(3):
        make_photo(library_dir / f"{i}.jpg", seed=i)
    outside = make_photo(tmp_path / "outside.jpg", seed=9)
    d = start(make_config, library={"paths": [str(library_dir)]})
    try:
        wait_until(lambda: d.status()["files"]["done"] == 3)
        items = d.request("GET", "/api/images?per_page=10")["items"]
        first, second = items[0], items[1]
        forged = {"files": [{"id": first["id"], "path": str(outside)}]}
        code, body = http_error(d, "POST", "/api/files/trash", forged)
        assert code == 404 and "is not a file of image" in body["error"]
        assert outside.exists()
        code, body = http_error(d, "POST", "/api/files/move", {
            "files": [{"id": first["id"], "path": first["path"]}], "destination": "/tmp"})
        assert code == 403 and "not inside the library" in body["error"]

        moved = d.request("POST", "/api/files/move", {
            "files": [{"id": first["id"], "path": first["path"]}], "destination": "sorted"})
        target = library_dir / "sorted" / Path(first["path"]).name
        assert moved["moved"] == [{"from": first["path"], "to": str(target)}]
        wait_until(lambda: d.request("GET", f"/api/images/{first['id']}")["path"] ==
                   str(target))

        trashed = d.request("POST", "/api/files/trash", {
            "files": [{"id": second["id"], "path": second["path"]}]})
        assert trashed["trashed"] == [second["path"]] and not Path(second["path"]).exists()
        assert trashed["trash"].endswith("Trash/files")
        assert len(list(Path(trashed["trash"]).iterdir())) == 1  # in the trash, not deleted
        wait_until(lambda: d.status()["files"]["total"] == 2)
    finally:
        d.kill()


def test_a_token_guards_every_api_call(make_config, library_dir: Path) -> None:
    d = start(make_config, library={"paths": [str(library_dir)]},
              server={"token": "s3cret"})
    try:
        url = f"http://127.0.0.1:{d.port}/api/status"
        try:
            urllib.request.urlopen(url)
            raise AssertionError("no token was needed")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
        with urllib.request.urlopen(url + "?token=s3cret") as response:
            assert response.status == 200
        assert d.status()["version"]  # the helper sends the Bearer header
        with urllib.request.urlopen(f"http://127.0.0.1:{d.port}/") as page:
            assert b"anagnorisisd" in page.read()  # the panel itself loads, then asks
        status = run_cli("status", "--json", "--config", str(d.config))
        assert '"daemon": "running"' in status.stdout
    finally:
        d.kill()
