"""Newest first: on a first indexing the newest photos are described first, a photo taken
now goes ahead of the rest, and status says how far back the library is ready."""

from __future__ import annotations

import os
import random
from datetime import UTC, datetime
from pathlib import Path

from tests.helpers import Daemon, free_port, make_photo, run_cli, wait_until, write_config

PLUGINS = Path(__file__).resolve().parent / "fixtures" / "plugins"
ENV = {"PYTHONPATH": f"{PLUGINS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
STEP_S = 9 * 24 * 3600


def library_of_years(folder: Path, count: int, seed: int = 1) -> dict[str, int]:
    """`count` photos whose names say nothing of their dates: path -> mtime in seconds, one
    every nine days from 2001, shuffled."""
    steps = list(range(count))
    random.Random(seed).shuffle(steps)
    out = {}
    for i, step in enumerate(steps):
        path = folder / f"img-{i:03d}.jpg"
        make_photo(path, 96, 64, seed=i)
        mtime = 978_307_200 + step * STEP_S + 3600
        os.utime(path, (mtime, mtime))
        out[str(path)] = mtime
    return out


def config_for(tmp_path: Path, library: Path, log: Path, hold: Path | None = None,
               port: int = 1) -> Path:
    return write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(library)]},
        "storage": {"data_dir": str(tmp_path / "data")},
        "server": {"port": port},
        "watcher": {"debounce_s": 0.2, "settle_s": 0.2},
        "pipeline": {"stages": ["hash", "meta", "counter"], "queue_size": 1},
        "model": {"auto_pull": False},
        "stages.hash": {"workers": 1},  # one lane end to end: the order is exact
        "stages.counter": {"log": str(log), "hold": str(hold or "")},
    })


def test_a_first_indexing_describes_the_newest_photos_first(tmp_path: Path,
                                                           library_dir: Path) -> None:
    dates = library_of_years(library_dir, 30)
    log = tmp_path / "order.log"
    result = run_cli("index", "--config", str(config_for(tmp_path, library_dir, log)), env=ENV)
    assert result.returncode == 0, result.stderr
    assert log.read_text().splitlines() == sorted(dates, key=dates.__getitem__, reverse=True)


def test_a_new_photo_goes_ahead_and_status_says_how_far_back_it_is_ready(
        tmp_path: Path, library_dir: Path) -> None:
    dates = library_of_years(library_dir, 200)
    log, hold = tmp_path / "order.log", tmp_path / "hold"
    hold.touch()
    port = free_port()
    config = config_for(tmp_path, library_dir, log, hold, port)
    d = Daemon(config, port, env=ENV)
    try:
        # held at the counter with the newest photo in hand: nothing is ready past it
        newest = max(dates.values())
        queue = wait_until(lambda: (q := d.status()["queue"])["ready_back_to"] and q)
        assert queue["ready_back_to"] == datetime.fromtimestamp(newest, UTC).isoformat()
        said = run_cli("status", "--config", str(config), env=ENV)
        assert f"ready back to {queue['ready_back_to'][:10]}" in said.stdout, said.stdout
        fresh = library_dir / "taken-now.jpg"
        make_photo(fresh, 96, 64, seed=9999)
        wait_until(lambda: d.status()["files"]["total"] == 201)
        # held: nothing finishes, so the files in hand now include every one fed before it
        ahead = d.status()["queue"]["in_flight"]
        assert ahead < 200
        now = wait_until(lambda: d.status()["queue"]["ready_back_to"])
        assert abs(datetime.fromisoformat(now).timestamp() - os.stat(fresh).st_mtime) < 2
        hold.unlink()
        wait_until(lambda: d.status()["files"]["done"] == 201, timeout=120)
        assert d.status()["queue"]["ready_back_to"] is None
    finally:
        d.kill()
    order = log.read_text().splitlines()
    # only the photos already in the pipeline's hands went before the new one
    assert order.index(str(fresh)) <= ahead, order
    rest = [p for p in order if p != str(fresh)]
    assert rest == sorted(dates, key=dates.__getitem__, reverse=True)
