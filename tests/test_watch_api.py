"""The daemon end to end: real watchdog on a real filesystem, a real server on loopback."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from blake3 import blake3

from anagnorisisd.store.database import Store
from tests.helpers import Daemon, http_error, make_photo, wait_until

LIVE = 2.0  # the bar: changes show in /api/status within two seconds


def files(daemon: Daemon) -> dict[str, int]:
    return daemon.status()["files"]


def processed(daemon: Daemon) -> dict[str, int]:
    return {name: st["processed"] for name, st in daemon.status()["stages"].items()}


def test_add_modify_move_delete_show_in_status(daemon: Daemon, library_dir: Path) -> None:
    wait_until(lambda: daemon.status()["scan"]["last"] is not None)
    assert files(daemon)["total"] == 0

    photo = make_photo(library_dir / "a" / "one.jpg", seed=1)
    wait_until(lambda: files(daemon) == {"total": 1, "done": 1, "failed": 0, "pending": 0},
               timeout=LIVE)
    before = processed(daemon)
    assert before == {"hash": 1, "meta": 1, "thumbnail": 1}

    make_photo(photo, seed=2)  # modified in place: new content
    wait_until(lambda: processed(daemon)["thumbnail"] == 2 and files(daemon)["done"] == 1,
               timeout=LIVE)
    assert daemon.status()["content"]["unique"] == 1

    moved = library_dir / "b" / "renamed.jpg"
    moved.parent.mkdir()
    os.rename(photo, moved)
    wait_until(lambda: daemon.status()["queue"]["queued"] == 0, timeout=LIVE)
    status = daemon.status()
    assert status["files"]["total"] == 1 and status["files"]["done"] == 1
    assert processed(daemon) == {"hash": 2, "meta": 2, "thumbnail": 2}, "a move recomputed"

    moved.unlink()
    wait_until(lambda: files(daemon)["total"] == 0, timeout=LIVE)
    status = daemon.status()
    assert status["content"]["unique"] == 0
    assert all(st["done"] == 0 and st["pending"] == 0 for st in status["stages"].values())


def stored_paths(data_dir: Path) -> list[str]:
    """Read the daemon's store from this process, as another LMDB reader."""
    store = Store(data_dir, readonly=True)
    try:
        return [r.path for r in store.iter_files()]
    finally:
        store.env.close()


def test_moved_file_keeps_its_content_record(daemon: Daemon, library_dir: Path,
                                            tmp_path: Path) -> None:
    photo = make_photo(library_dir / "keep.jpg", seed=3)
    wait_until(lambda: files(daemon)["done"] == 1, timeout=LIVE)
    shutil.move(photo, library_dir / "sub-dir-moved.jpg")
    wait_until(lambda: stored_paths(tmp_path / "data") == [str(library_dir / "sub-dir-moved.jpg")],
               timeout=LIVE)
    assert daemon.stop() == 0

    store = Store(tmp_path / "data")
    try:
        records = list(store.iter_files())
        assert [r.path for r in records] == [str(library_dir / "sub-dir-moved.jpg")]
        content = records[0].hash
        assert content is not None
        record = store.content_record(content)
        assert set(record) == {"meta", "thumbnail"}
        assert record["thumbnail"]["output"]["data"][:2] == b"\xff\xd8"
        assert store.paths_for(content) == [records[0].path]
    finally:
        store.close()


def test_directory_moves_and_deletes(daemon: Daemon, library_dir: Path) -> None:
    for i in range(3):
        make_photo(library_dir / "album" / f"{i}.jpg", seed=10 + i)
    wait_until(lambda: files(daemon)["done"] == 3, timeout=LIVE + 1)
    os.rename(library_dir / "album", library_dir / "album-2024")
    wait_until(lambda: files(daemon)["total"] == 3 and daemon.status()["queue"]["queued"] == 0)
    assert processed(daemon)["thumbnail"] == 3
    shutil.rmtree(library_dir / "album-2024")
    wait_until(lambda: files(daemon)["total"] == 0, timeout=LIVE)


def test_file_being_written_is_processed_once_complete(daemon: Daemon,
                                                      library_dir: Path) -> None:
    source = make_photo(library_dir.parent / "staging.jpg", 1600, 1200, seed=4).read_bytes()
    target = library_dir / "slow.jpg"
    with target.open("wb") as f:
        for start in range(0, len(source), len(source) // 6):
            f.write(source[start : start + len(source) // 6])
            f.flush()
            os.fsync(f.fileno())
            import time

            time.sleep(0.1)
    wait_until(lambda: files(daemon)["done"] == 1, timeout=LIVE + 1)
    assert files(daemon)["failed"] == 0
    # Hashed once, and what was hashed is the whole file, not a prefix seen mid-write.
    assert daemon.status()["stages"]["hash"]["processed"] == 1
    (item,) = daemon.request("GET", "/api/images")["items"]
    assert item["id"] == blake3(source).hexdigest()


def test_put_library_validates_and_retargets(daemon: Daemon, tmp_path: Path) -> None:
    code, body = http_error(daemon, "PUT", "/api/library", {"paths": [str(tmp_path / "nope")]})
    assert code == 400 and "no such directory" in body["error"]
    code, body = http_error(daemon, "PUT", "/api/library", {"paths": "not-a-list"})
    assert code == 400
    code, body = http_error(daemon, "PUT", "/api/library", {"wrong": 1})
    assert code == 400

    other = tmp_path / "other-library"
    make_photo(other / "x.jpg", seed=5)
    make_photo(other / "y.jpg", seed=6)
    assert daemon.request("PUT", "/api/library", {"paths": [str(other)]}) == {
        "paths": [str(other)]
    }
    wait_until(lambda: files(daemon)["done"] == 2, timeout=LIVE + 1)
    assert daemon.status()["library"]["paths"] == [str(other)]
    make_photo(other / "z.jpg", seed=7)  # the watcher follows the new root
    wait_until(lambda: files(daemon)["done"] == 3, timeout=LIVE)


def test_bad_files_fail_with_a_reason_and_good_ones_index(daemon: Daemon,
                                                          library_dir: Path) -> None:
    good = make_photo(library_dir / "good.jpg", seed=8)
    (library_dir / "empty.jpg").write_bytes(b"")
    (library_dir / "text.png").write_text("this is not a picture")
    (library_dir / "truncated.jpg").write_bytes(good.read_bytes()[:3000])
    wait_until(lambda: files(daemon)["total"] == 4 and files(daemon)["pending"] == 0,
               timeout=LIVE + 1)
    status = daemon.status()
    assert status["files"]["done"] == 1 and status["files"]["failed"] == 3
    failures = {Path(f["path"]).name: f for f in daemon.request("GET", "/api/failures")["items"]}
    assert set(failures) == {"empty.jpg", "text.png", "truncated.jpg"}
    assert failures["text.png"]["stage"] == "meta"
    assert "not an image" in failures["text.png"]["reason"]
    assert failures["truncated.jpg"]["stage"] == "thumbnail"
    assert "truncated" in failures["truncated.jpg"]["reason"]


def test_missing_root_is_reported_and_picked_up_when_it_appears(make_config,
                                                                tmp_path: Path) -> None:
    import tomllib

    later = tmp_path / "usb-disk"
    config = make_config(library={"paths": [str(later)]},
                         scheduler={"missing_root_check_s": 1})
    d = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    try:
        assert d.status()["library"]["missing"] == [str(later)]
        make_photo(later / "p.jpg", seed=9)
        wait_until(lambda: files(d)["done"] == 1, timeout=5)
        assert d.status()["library"]["missing"] == []
        make_photo(later / "q.jpg", seed=10)
        wait_until(lambda: files(d)["done"] == 2, timeout=LIVE)
    finally:
        d.kill()


def test_serve_without_library_waits_for_one(make_config, tmp_path: Path) -> None:
    import tomllib

    config = make_config()
    d = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    try:
        assert d.status()["library"]["paths"] == []
        lib = tmp_path / "set-later"
        make_photo(lib / "p.jpg", seed=11)
        d.request("PUT", "/api/library", {"paths": [str(lib)]})
        wait_until(lambda: files(d)["done"] == 1, timeout=LIVE + 1)
        assert d.stop() == 0
    finally:
        d.kill()
    # the path set through the API survives a restart
    d = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    try:
        assert d.status()["library"] == {**d.status()["library"], "paths": [str(lib)],
                                          "source": "api"}
    finally:
        d.kill()
