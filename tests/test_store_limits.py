"""The store at its limits: a full map, old stores, long histories, racing writers, bad settings."""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import subprocess
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from anagnorisisd.store.database import SCHEMA_VERSION, Store
from anagnorisisd.store.migrations import RATING_HISTORY_LIMIT
from tests.helpers import Daemon, http_error, make_photo, run_cli, wait_until, write_config

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "stores"


@pytest.mark.parametrize("release", ["schema-1", "schema-2"])
def test_a_store_written_by_an_earlier_release_opens_with_every_rating(
        tmp_path: Path, release: str) -> None:
    shutil.copytree(FIXTURES / release, tmp_path / "old")
    expected = json.loads((tmp_path / "old" / "expected.json").read_text())
    assert expected["schema"] < SCHEMA_VERSION
    store = Store(tmp_path / "old", map_size_gb=1)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        assert {r.path: r.hash.hex() for r in store.iter_files() if r.hash} == expected["files"]
        ratings = {c.hex(): r["value"] for c, r in store.ratings()}
        assert ratings == expected["ratings"]
        for content_hex in expected["ratings"]:
            history = store.rating_history(bytes.fromhex(content_hex))
            assert history and history[-1]["value"] == expected["ratings"][content_hex]
        assert store.get_setting("library.paths") == ["/photos"]
        queued = expected.get("queued", [])
        assert sum(store.census_snapshot().files.values()) == len(expected["files"]) + len(queued)
        if queued:  # the queue, worked newest first: 1 (2023), 2 (2022), 0 (2020)
            assert store.dirty_paths() == [queued[1], queued[2], queued[0]]
            assert store.newest_queued_ns() == 1_700_000_500 * 1_000_000_000
    finally:
        store.close()


def test_rating_history_is_bounded_and_a_change_stays_cheap(tmp_path: Path) -> None:
    store = Store(tmp_path)
    content = b"\x01" * 32
    try:
        for i in range(RATING_HISTORY_LIMIT * 3):
            with store.write() as w:
                w.set_rating(content, float(i % 11), float(i))
        history = store.rating_history(content)
        assert len(history) == RATING_HISTORY_LIMIT
        assert history[-1] == {"value": float((RATING_HISTORY_LIMIT * 3 - 1) % 11),
                               "at": float(RATING_HISTORY_LIMIT * 3 - 1)}
    finally:
        store.close()


def test_counters_stay_exact_with_writers_beside_a_recount(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.set_stage_versions({"meta": "1"})
    stop = threading.Event()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        while not stop.is_set():
            path = f"/lib/{rng.randrange(40)}.jpg"
            with store.write() as w:
                rec = w.file(path)
                choice = rng.random()
                if rec is None or choice < 0.3:
                    w.seen(path, rng.randrange(9), rng.randrange(9))
                elif choice < 0.6:
                    w.set_hash(path, rec.gen, bytes([rng.randrange(5)]) * 32, 1, 1)
                elif choice < 0.8 and rec.hash is not None:
                    w.put_result(rec.hash, "meta", "1", {"x": 1})
                    w.finish(path, rec.gen, None)
                else:
                    w.remove(path)

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(3)]
    for t in threads:
        t.start()
    try:
        for _ in range(40):
            store.recount()
    finally:
        stop.set()
        for t in threads:
            t.join()
    live = store.census_snapshot()
    store.recount()
    again = store.census_snapshot()
    assert +live.files == +again.files and live.hashed == again.hashed
    assert live.live_content == again.live_content and +live.stage_done == +again.stage_done
    store.close()


def test_a_full_map_pauses_indexing_keeps_ratings_and_grows_at_the_next_start(
        make_config, library_dir: Path) -> None:
    for i in range(120):
        make_photo(library_dir / f"{i}.jpg", 640, 480, seed=i)
    # A 20 MiB map keeps a 16 MiB reserve, so bulk writes stop after a few large thumbnails.
    config = make_config(library={"paths": [str(library_dir)]},
                         storage={"map_size_gb": 0.02},
                         **{"stages.thumbnail": {"size": 640, "quality": 95}})
    port = tomllib.loads(config.read_text())["server"]["port"]
    d = Daemon(config, port)
    try:
        wait_until(lambda: d.status()["store"]["full"], timeout=60)
        status = d.status()
        assert "full" in status["store"]["full"] and status["files"]["failed"] == 0
        done = status["files"]["done"]
        assert done < 120
        items = d.request("GET", "/api/images?per_page=5")["items"]
        assert items, "some images were indexed before the store filled"
        d.request("PUT", f"/api/images/{items[0]['id']}/rating", {"rating": 9})
        assert d.stop() == 0
    finally:
        d.kill()
    d = Daemon(config, port)  # starts again, with a larger map
    try:
        wait_until(lambda: d.status()["files"]["done"] == 120, timeout=120)
        assert d.status()["store"]["full"] is None
        assert d.request("GET", f"/api/images/{items[0]['id']}")["user_rating"] == 9
    finally:
        d.kill()


def test_bad_storage_settings_are_one_line_errors(tmp_path: Path) -> None:
    cases = [({"map_size_gb": 0}, "at least"), ({"map_size_gb": -1}, "at least"),
             ({"map_size_gb": 1e12}, "at most"), ({"data_dir": "/proc/no-such-place"}, "cannot")]
    for storage, words in cases:
        config = write_config(tmp_path / "bad.toml", {"storage": {"data_dir": str(
            tmp_path / "data"), **storage}, "server": {"port": 1}})
        result = run_cli("index", str(tmp_path), "--config", str(config))
        lines = result.stderr.strip().splitlines()
        assert result.returncode in (1, 2), result.stderr
        assert len(lines) == 1 and words in lines[0], (storage, result.stderr)


@contextlib.contextmanager
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 48 MB tmpfs of the test's own (mounting needs root: skipped without)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", str(disk)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("mounting a small tmpfs needs root: " + mounted.stderr.decode().strip())
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def fill(disk: Path) -> Path:
    """Fill the disk to the last byte with a file; its path, to free the room again."""
    filler = disk / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
        except OSError:
            pass
    return filler


def test_a_full_disk_pauses_indexing_and_it_resumes_when_space_returns(
        make_config, library_dir: Path, tmp_path: Path) -> None:
    with small_disk(tmp_path) as disk:
        for i in range(80):
            make_photo(library_dir / f"{i}.jpg", 640, 480, seed=i)
        config = make_config(library={"paths": [str(library_dir)]},
                             storage={"data_dir": str(disk / "data")},
                             **{"stages.thumbnail": {"size": 640, "quality": 95}})
        d = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
        try:
            wait_until(lambda: d.status()["files"]["done"] >= 5, timeout=60, interval=0.01)
            filler = fill(disk)  # another program fills the disk
            wait_until(lambda: d.status()["store"]["full"], timeout=60)
            assert "disk" in d.status()["store"]["full"]
            item = d.request("GET", "/api/images?per_page=1")["items"][0]
            # Saved in the space LMDB already has, or refused with a 507 that says so: the
            # person knows either way, and the answer is never a 500.
            code, body = http_error(d, "PUT", f"/api/images/{item['id']}/rating", {"rating": 8})
            assert code in (200, 507), body
            assert d.status()["files"]["failed"] == 0
            filler.unlink()
            wait_until(lambda: d.status()["files"]["done"] == 80, timeout=120)
            assert d.status()["store"]["full"] is None
            rating = d.request("GET", f"/api/images/{item['id']}")["user_rating"]
            assert rating == (8 if code == 200 else None)
        finally:
            d.kill()


def test_a_full_disk_is_said_once_by_the_background_lane_and_it_resumes(
        make_config, library_dir: Path, tmp_path: Path) -> None:
    """The text stage logged an ERROR traceback for every photo it tried while the data
    disk was full (about two a second); it now says it once, as the other stages do, and
    goes on when there is room."""
    with small_disk(tmp_path) as disk:
        # photos large enough that their text takes seconds in all: the disk must fill
        # before the lane is done (twelve 320 px ones took less than one status poll on a
        # busy machine, and the lane had nothing left to pause)
        for i in range(12):
            make_photo(library_dir / f"{i}.jpg", 1400, 1050, seed=i)
        config = make_config(library={"paths": [str(library_dir)]},
                             storage={"data_dir": str(disk / "data")},
                             pipeline={"stages": ["hash", "meta", "text"]})
        d = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
        try:
            wait_until(lambda: d.status()["stages"]["meta"]["done"] == 12, timeout=60)
            filler = fill(disk)
            wait_until(lambda: d.status()["stages"]["text"].get("paused"), timeout=60)
            assert "Traceback" not in d.log.read_text()
            filler.unlink()
            wait_until(lambda: d.status()["stages"]["text"]["pending"] == 0, timeout=180)
            assert d.status()["stages"]["text"]["done"] == 12
            log = d.log.read_text()  # every retry while it was full: said once in all
            assert "Traceback" not in log
            assert log.count("background stage text paused") == 1, log[-2000:]
        finally:
            d.kill()


def test_a_daemon_started_on_a_full_disk_says_so_in_one_line_each(
        make_config, library_dir: Path, tmp_path: Path) -> None:
    """Started with no room: the library is shown read-only and said once; the text
    feature, which could not open its word index there, says why in status and one log
    line, not a traceback."""
    with small_disk(tmp_path) as disk:
        for i in range(2):
            make_photo(library_dir / f"{i}.jpg", 320, 240, seed=i)
        first = make_config(library={"paths": [str(library_dir)]},
                            storage={"data_dir": str(disk / "data")},
                            pipeline={"stages": ["hash", "meta"]})
        d = Daemon(first, tomllib.loads(first.read_text())["server"]["port"])
        try:
            wait_until(lambda: d.status()["stages"]["meta"]["done"] == 2, timeout=60)
        finally:
            d.stop()
        fill(disk)
        config = make_config(library={"paths": [str(library_dir)]},
                             storage={"data_dir": str(disk / "data")},
                             pipeline={"stages": ["hash", "meta", "text"]})
        d = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
        try:
            problems = wait_until(lambda: d.status()["features"]["problems"], timeout=60)
            assert "disk is full" in problems["text"]
            log = d.log.read_text()
            assert "Traceback" not in log and "feature text cannot start" in log
        finally:
            d.kill()
