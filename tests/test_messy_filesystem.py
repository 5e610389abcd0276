"""A library as messy as real disks get: odd entries, names, bursts of changes, kill -9.

Every test runs the real daemon (watchdog on the real filesystem, LMDB in a temp dir)
and ends by comparing what the daemon believes with what is on the disk.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path

from anagnorisisd.ml.manager import shipped_model_dir
from anagnorisisd.store.database import Store
from tests.helpers import REPO, Daemon, make_photo, wait_until


def start(make_config, library: Path, **sections) -> Daemon:  # type: ignore[no-untyped-def]
    config = make_config(library={"paths": [str(library)]}, **sections)
    return Daemon(config, tomllib.loads(config.read_text())["server"]["port"])


def settled(d: Daemon, on_disk: int) -> bool:
    status = d.status()
    return (status["files"]["total"] == on_disk and status["files"]["pending"] == 0
            and status["queue"]["queued"] == 0 and status["queue"]["in_flight"] == 0)


def photos_on_disk(library: Path) -> set[str]:
    return {str(p) for p in library.rglob("*.jpg") if p.is_file() and not p.is_symlink()}


def test_odd_entries_are_listed_with_reasons_and_block_nothing(make_config, library_dir: Path,
                                                               tmp_path: Path) -> None:
    make_photo(library_dir / "good.jpg", seed=1)
    weird = os.fsencode(str(library_dir)) + b"/caf\xe9-\xff.jpg"  # not valid UTF-8
    make_photo(Path(os.fsdecode(weird)), seed=2)
    os.mkfifo(library_dir / "fifo.jpg")
    (library_dir / "zero.jpg").symlink_to("/dev/zero")
    (library_dir / "loop.jpg").symlink_to(library_dir / "loop.jpg")
    (library_dir / "dangling.jpg").symlink_to(library_dir / "nothing-here.jpg")
    (library_dir / "inside-link.jpg").symlink_to(library_dir / "good.jpg")
    deep = library_dir / ("d" * 200) / ("e" * 200)
    make_photo(deep / ("f" * 150 + ".jpg"), seed=3)
    unreadable = library_dir / "locked"
    make_photo(unreadable / "hidden-from-us.jpg", seed=4)
    unreadable.chmod(0)
    root_reads_anyway = 1 if os.geteuid() == 0 else 0  # chmod 0 does not stop root
    d = start(make_config, library_dir)
    try:
        # good.jpg, the non-UTF-8 name, and the link to good.jpg (a second path of it).
        wait_until(lambda: d.status()["files"]["done"] == 3 + root_reads_anyway, timeout=30)
        items = d.request("GET", "/api/images?per_page=50")["items"]
        paths = {p for i in items for p in i["paths"]}
        assert os.fsdecode(weird) in paths and str(library_dir / "inside-link.jpg") in paths
        weird_item = next(i for i in items if os.fsdecode(weird) in i["paths"])
        status, _ = d.call("GET", f"/api/images/{weird_item['id']}")
        assert status == 200
        failures = {f["path"]: f["reason"] for f in d.request("GET", "/api/failures")["items"]}
        assert "FIFO" in failures[str(library_dir / "fifo.jpg")]
        assert "outside the library" in failures[str(library_dir / "zero.jpg")]
        assert "loop" in failures[str(library_dir / "loop.jpg")]
        assert "dangling" in failures[str(library_dir / "dangling.jpg")]
        assert "key limit" in failures[str(deep / ("f" * 150 + ".jpg"))]
        if os.geteuid() != 0:  # root reads through chmod 0; the reason is only seen by others
            assert "cannot list" in failures[str(unreadable)]
        # A FIFO that appears while the daemon watches is judged too, and blocks nothing.
        os.mkfifo(library_dir / "late-fifo.jpg")
        make_photo(library_dir / "after-the-fifo.jpg", seed=5)
        wait_until(lambda: d.status()["files"]["done"] == 4 + root_reads_anyway, timeout=30)
        wait_until(lambda: any(f["path"].endswith("late-fifo.jpg") for f in
                               d.request("GET", "/api/failures")["items"]), timeout=30)
        assert d.stop() == 0
        d2 = start(make_config, library_dir)  # a restart with the FIFOs still there
        try:
            wait_until(lambda: settled(d2, 4 + root_reads_anyway), timeout=30)
            assert d2.status()["files"]["failed"] == 0
        finally:
            d2.kill()
    finally:
        unreadable.chmod(stat.S_IRWXU)
        d.kill()


def test_a_burst_of_renames_deletes_and_folder_moves_leaves_the_store_equal_to_the_disk(
        make_config, library_dir: Path, tmp_path: Path) -> None:
    rng = random.Random(7)
    for i in range(160):
        make_photo(library_dir / f"album{i % 8}" / f"p{i}.jpg", 320, 240, seed=i)
    outside = tmp_path / "parking"
    outside.mkdir()
    d = start(make_config, library_dir)
    try:
        wait_until(lambda: d.status()["files"]["done"] >= 20, timeout=60, interval=0.01)
        for step in range(120):  # while the pipeline is busy with them
            files = sorted(photos_on_disk(library_dir))
            action = rng.random()
            if action < 0.35 and files:
                src = Path(rng.choice(files))
                src.rename(src.with_name(f"renamed{step}-{src.name}"))
            elif action < 0.5 and files:
                Path(rng.choice(files)).unlink()
            elif action < 0.65:
                album = library_dir / f"album{rng.randrange(8)}"
                if album.exists():
                    album.rename(outside / album.name)
                    time.sleep(rng.random() * 0.05)
                    (outside / album.name).rename(album)  # out and back
            elif action < 0.8:
                make_photo(library_dir / "new" / f"n{step}.jpg", 320, 240, seed=1000 + step)
            elif files:
                album = library_dir / f"album{rng.randrange(8)}"
                if album.exists():
                    album.rename(library_dir / f"moved{step}")
            time.sleep(rng.random() * 0.02)
        expected = photos_on_disk(library_dir)
        wait_until(lambda: settled(d, len(expected)), timeout=120, interval=0.2)
        status = d.status()
        assert status["files"]["failed"] == 0, d.request("GET", "/api/failures")
        listed = {p for i in d.request("GET", "/api/images?per_page=500")["items"]
                  for p in i["paths"]}
        assert listed == expected
        assert status["stages"]["thumbnail"]["failed"] == 0
    finally:
        d.kill()


def test_a_library_folder_deleted_and_restored_is_noticed(make_config, library_dir: Path,
                                                          tmp_path: Path) -> None:
    for i in range(3):
        make_photo(library_dir / f"{i}.jpg", seed=i)
    d = start(make_config, library_dir, scheduler={"missing_root_check_s": 1})
    try:
        wait_until(lambda: d.status()["files"]["done"] == 3, timeout=30)
        aside = tmp_path / "aside"
        library_dir.rename(aside)
        wait_until(lambda: d.status()["library"]["missing"] == [str(library_dir)], timeout=30)
        aside.rename(library_dir)  # a new folder at the old path, as a restore makes
        make_photo(library_dir / "after-restore.jpg", seed=9)
        wait_until(lambda: settled(d, 4) and d.status()["files"]["done"] == 4, timeout=30)
        make_photo(library_dir / "later.jpg", seed=10)  # and the watcher is on it again
        wait_until(lambda: d.status()["files"]["done"] == 5, timeout=30)
    finally:
        d.kill()


def test_kill_9_at_random_moments_loses_no_rating_and_no_file(make_config, library_dir: Path,
                                                              tmp_path: Path) -> None:
    rng = random.Random(11)
    for i in range(60):
        make_photo(library_dir / f"k{i}.jpg", 480, 360, seed=i)
    config = make_config(library={"paths": [str(library_dir)]})
    port = tomllib.loads(config.read_text())["server"]["port"]
    ratings: dict[str, float] = {}
    for cycle in range(6):
        d = Daemon(config, port)
        try:
            make_photo(library_dir / f"cycle{cycle}.jpg", 480, 360, seed=500 + cycle)
            deadline = time.monotonic() + rng.uniform(0.3, 2.0)
            while time.monotonic() < deadline:
                items = d.request("GET", "/api/images?per_page=100")["items"]
                if items:
                    item = rng.choice(items)
                    value = float(rng.randrange(11))
                    d.request("PUT", f"/api/images/{item['id']}/rating", {"rating": value})
                    ratings[item["id"]] = value  # acknowledged: must survive any kill
                time.sleep(0.05)
        finally:
            os.kill(d.proc.pid, signal.SIGKILL)
            d.proc.wait()
    d = Daemon(config, port)
    try:
        expected = photos_on_disk(library_dir)
        wait_until(lambda: settled(d, len(expected)), timeout=120, interval=0.2)
        assert d.status()["files"]["failed"] == 0
        for content, value in ratings.items():
            assert d.request("GET", f"/api/images/{content}")["user_rating"] == value
        assert d.stop() == 0
    finally:
        d.kill()
    store = Store(tomllib.loads(config.read_text())["storage"]["data_dir"])
    try:
        live = store.census_snapshot()
        assert sum(live.files.values()) == len(expected)
        assert {r.path for r in store.iter_files()} == expected
    finally:
        store.close()


def test_one_daemon_per_data_directory(make_config, library_dir: Path) -> None:
    d = start(make_config, library_dir)
    try:
        second = subprocess.run([sys.executable, "-m", "anagnorisisd", "serve", "--config",
                                 str(d.config)], capture_output=True, text=True, timeout=60,
                                cwd=REPO)
        assert second.returncode == 1
        assert f"PID {d.proc.pid}" in second.stderr and len(second.stderr.splitlines()) == 1
        index = subprocess.run([sys.executable, "-m", "anagnorisisd", "index", "--config",
                                str(d.config)], capture_output=True, text=True, timeout=60,
                               cwd=REPO)
        assert index.returncode == 1 and "indexes on its own" in index.stderr
    finally:
        d.kill()
    shutil.rmtree(library_dir)


def test_stopping_mid_decode_records_no_failure(tmp_path: Path, library_dir: Path) -> None:
    """SIGTERM while the CLIP stage decodes: the cut-short decodes say nothing about the files."""
    from anagnorisisd.app.shapes import make_library
    from tests.helpers import free_port, write_config

    make_library(library_dir, 150, seed=8)
    mini = shipped_model_dir("shapes-clip-mini")
    shutil.copytree(mini, tmp_path / "data" / "models" / "shapes-clip-mini")
    config = write_config(tmp_path / "clip.toml", {
        "library": {"paths": [str(library_dir)]}, "storage": {"data_dir": str(tmp_path / "data")},
        "server": {"port": free_port()},
        "model": {"name": "shapes-clip-mini", "auto_pull": False},
        "stages.clip": {"decode_threads": 2, "lookahead": 64, "model_batch": 8},
    })
    port = tomllib.loads(config.read_text())["server"]["port"]
    for _ in range(3):
        d = Daemon(config, port)
        try:
            wait_until(lambda d=d: d.status()["stages"]["clip"]["done"] >= 1, timeout=60,
                       interval=0.01)
            assert d.stop() == 0
        finally:
            d.kill()
    d = Daemon(config, port)
    try:
        wait_until(lambda: d.status()["stages"]["clip"]["done"] == 150, timeout=120)
        assert d.status()["files"]["failed"] == 0
        assert d.request("GET", "/api/failures")["total"] == 0
    finally:
        d.kill()
