"""Stacks of bursts, keepers chosen by taste then sharpness, and culling that only ever uses
the system trash: the grouping rules alone, then through a real daemon with the shipped
model, its HTTP API and the CLI."""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from anagnorisisd.ml.manager import shipped_model_dir
from anagnorisisd.search.keepers import Candidate, choose
from anagnorisisd.search.stacks import StackRules, find_stacks
from tests.helpers import Daemon, free_port, make_photo, run_cli, wait_until, write_config


def unit(rows: list[list[float]]) -> np.ndarray:
    m = np.asarray(rows, dtype=np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def test_a_stack_is_close_in_time_and_alike() -> None:
    taken = np.asarray([0, 5, 9, 7200, 7201, 30, np.nan, 12])
    vectors = unit([[1, 0], [1, 0.1], [1, 0.05], [1, 0], [0, 1], [1, 0], [1, 0], [1, 0.02]])
    has = np.asarray([True] * 7 + [False])
    stacks = find_stacks(taken, vectors, has, StackRules(gap_s=30, similarity=0.9))
    # 0, 5, 9 and 30 chain (each within 30 s of the one before); 7200 and 7201 are close
    # but unalike; no time or no vector joins nothing.
    assert [sorted(s.tolist()) for s in stacks] == [[0, 1, 2, 5]]


def c(name: str, user: float | None = None, predicted: float | None = None,
      sharp: float | None = None, pixels: int = 100, size: int = 10) -> Candidate:
    return Candidate(name.encode().ljust(32, b"-"), user, predicted, sharp, pixels, size)


def test_the_keeper_follows_taste_then_sharpness_then_size() -> None:
    best, why = choose([c("a", predicted=6, sharp=900), c("b", user=8, sharp=10)])
    assert best.content.startswith(b"b") and why.startswith("you rated it 8")
    best, why = choose([c("a", predicted=6.5, sharp=900), c("b", predicted=7.2, sharp=950)])
    assert best.content.startswith(b"b") and "predicts 7.2" in why and "also the sharpest" in why
    best, why = choose([c("a", sharp=300), c("b", sharp=800), c("c", sharp=20)])
    assert best.content.startswith(b"b") and why == "this one is the sharpest of these 3"
    best, why = choose([c("a", user=5, sharp=1, pixels=400), c("b", user=5, sharp=1)])
    assert best.content.startswith(b"a") and "rated alike" in why and "most pixels" in why


def burst(folder: Path) -> dict[str, Path]:
    """Three shots of one scene, two seconds apart, the middle one shaken; and two other
    scenes hours away."""
    sharp = make_photo(folder / "burst-1.jpg", 640, 480, seed=7)
    base = Image.open(sharp)
    shots = {"burst-1": sharp}
    base.filter(ImageFilter.GaussianBlur(2.5)).save(folder / "burst-2.jpg", quality=85)
    shots["burst-2"] = folder / "burst-2.jpg"
    base.crop((8, 6, 640, 480)).resize((640, 480)).save(folder / "burst-3.jpg", quality=85)
    shots["burst-3"] = folder / "burst-3.jpg"
    for i, name in enumerate(("burst-1", "burst-2", "burst-3")):
        when = 1_700_000_000 + 2 * i
        os.utime(shots[name], (when, when))
    for seed, name in ((21, "other-a"), (22, "other-b")):
        shots[name] = make_photo(folder / f"{name}.jpg", 640, 480, seed=seed)
        when = 1_700_000_000 + 3600 * seed
        os.utime(shots[name], (when, when))
    return shots


def test_stacks_keepers_and_cull_through_the_daemon(tmp_path: Path) -> None:
    lib = tmp_path / "library"
    lib.mkdir()
    shots = burst(lib)
    shutil.copytree(shipped_model_dir("shapes-clip-mini"),
                    tmp_path / "data" / "models" / "shapes-clip-mini")
    config = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(lib)]}, "storage": {"data_dir": str(tmp_path / "data")},
        "server": {"port": free_port()}, "model": {"name": "shapes-clip-mini",
                                                  "auto_pull": False},
        "index": {"check_interval_s": 1, "min_rebuild_interval_s": 0},
        "stacks": {"gap_s": 10, "similarity": 0.9}})
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"], env=env)
    try:
        wait_until(lambda: daemon.status()["stages"]["clip"]["done"] == 5, timeout=90)
        ids = {Path(i["path"]).stem: i["id"]
               for i in daemon.request("GET", "/api/images?per_page=10")["items"]}
        stacks = wait_until(lambda: daemon.request("GET", "/api/stacks")["stacks"], timeout=30)
        assert len(stacks) == 1
        assert sorted(stacks[0]["members"]) == sorted(ids[f"burst-{i}"] for i in (1, 2, 3))
        blurred = daemon.request("GET", f"/api/images/{ids['burst-2']}")["sharpness"]
        crisp = daemon.request("GET", f"/api/images/{ids['burst-1']}")["sharpness"]
        assert blurred < crisp / 4  # the shaken shot measures as such
        assert stacks[0]["keeper"] != ids["burst-2"]  # two sharp shots tie; size decides
        assert stacks[0]["reason"] == "the same size in pixels, the largest file"
        found = daemon.request("GET", "/api/images?q=sharp<" + str(int(crisp / 4)))
        assert [i["id"] for i in found["items"]] == [ids["burst-2"]]

        daemon.request("PUT", f"/api/images/{ids['burst-2']}/rating", {"rating": 9})
        stack = daemon.request("GET", "/api/stacks")["stacks"][0]
        assert stack["keeper"] == ids["burst-2"] and stack["reason"].startswith("you rated it 9")

        # A photo picked in the compare view is never trashed by the CLI either.
        daemon.request("PUT", f"/api/images/{ids['burst-3']}/decision", {"decision": "pick"})
        dry = run_cli("cull", "--dry-run", "--config", str(config), env=env)
        assert [line.split("/")[-1] for line in dry.stdout.splitlines()] == ["burst-1.jpg"]
        daemon.request("DELETE", f"/api/images/{ids['burst-3']}/decision")
        dry = run_cli("cull", "--dry-run", "--config", str(config), env=env)
        assert dry.returncode == 0, dry.stderr
        assert sorted(line.split("/")[-1] for line in dry.stdout.splitlines()) == [
            "burst-1.jpg", "burst-3.jpg"]
        assert "2 files" in dry.stderr and all(p.exists() for p in shots.values())
        done = run_cli("cull", "--config", str(config), env=env)
        assert done.returncode == 0, done.stderr
        assert not shots["burst-1"].exists() and not shots["burst-3"].exists()
        assert shots["burst-2"].exists() and shots["other-a"].exists()
        trash = tmp_path / "xdg" / "Trash" / "files"
        assert sorted(p.name for p in trash.iterdir()) == ["burst-1.jpg", "burst-3.jpg"]
        # the watcher tells the daemon the files went; the stack falls apart
        wait_until(lambda: daemon.request("GET", "/api/stacks")["total"] == 0, timeout=30)
        listed = run_cli("stacks", "--config", str(config), env=env)
        assert listed.returncode == 0 and "0 stacks" in listed.stderr
    finally:
        daemon.kill()
    gone = run_cli("stacks", "--config", str(config))
    assert gone.returncode != 0 and "no daemon answers" in gone.stderr
