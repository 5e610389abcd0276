"""Stacks of bursts, keepers chosen by taste then sharpness, and culling that only ever uses
the system trash: the grouping rules alone, then through a real daemon with the shipped
model, its HTTP API and the CLI."""

from __future__ import annotations

import itertools
import os
import shutil
import tomllib
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from anagnorisisd.features.culling.keepers import Candidate, choose
from anagnorisisd.features.culling.stacks import StackRules, find_stacks
from anagnorisisd.ml.manager import shipped_model_dir
from tests.helpers import Daemon, free_port, make_photo, run_cli, taken_at, wait_until, write_config


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


def test_with_people_in_the_shots_open_eyes_then_faces_in_focus_come_before_sharpness(
        ) -> None:
    def shot(name: str, shut: int | None, face: float | None, **kw: float) -> Candidate:
        return Candidate(name.encode().ljust(32, b"-"), kw.get("user"), None,
                         kw.get("sharp", 100.0), int(kw.get("pixels", 100)), 10,
                         eyes_closed=shut, least_sharp=face)

    best, why = choose([shot("a", 1, 200, sharp=900), shot("b", 0, 150, sharp=300),
                        shot("c", 2, 300, sharp=950)])
    assert best.content.startswith(b"b")  # the sharper pictures have someone blinking
    assert why == "everyone's eyes are open here; in 2 of the other 2 someone's are shut"
    best, why = choose([shot("a", 0, 30, sharp=900), shot("b", 0, 120, sharp=300)])
    assert best.content.startswith(b"b") and "faces are in focus here" in why
    best, why = choose([shot("a", 0, 100, sharp=900), shot("b", 0, 120, sharp=300)])
    assert best.content.startswith(b"a") and "sharpest" in why  # faces alike: the picture
    best, why = choose([shot("a", 1, 200, user=8), shot("b", 0, 200, user=6)])
    assert best.content.startswith(b"a") and why.startswith("you rated it 8")  # taste first
    best, _ = choose([shot("a", None, None, sharp=900), shot("b", None, None, sharp=300)])
    assert best.content.startswith(b"a")  # no faces: as before


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
        taken_at(shots[name], 1_700_000_000 + 2 * i)
    for seed, name in ((21, "other-a"), (22, "other-b")):
        shots[name] = make_photo(folder / f"{name}.jpg", 640, 480, seed=seed)
        taken_at(shots[name], 1_700_000_000 + 3600 * seed)
    return shots


def start_daemon(tmp_path: Path, lib: Path) -> tuple[Path, dict[str, str], Daemon]:
    """A daemon on the shipped model over `lib`, bursts within 10 s, its own trash."""
    shutil.copytree(shipped_model_dir("shapes-clip-mini"),
                    tmp_path / "data" / "models" / "shapes-clip-mini")
    config = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(lib)]}, "storage": {"data_dir": str(tmp_path / "data")},
        "server": {"port": free_port()}, "model": {"name": "shapes-clip-mini",
                                                  "auto_pull": False},
        "index": {"check_interval_s": 1, "min_rebuild_interval_s": 0},
        "stacks": {"gap_s": 10, "similarity": 0.9}})
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    return config, env, Daemon(config, tomllib.loads(config.read_text())["server"]["port"],
                               env=env)


def indexed(daemon: Daemon, count: int) -> dict[str, str]:
    """Once `count` photos are embedded: each photo's id by its file's stem."""
    wait_until(lambda: daemon.status()["stages"]["clip"]["done"] == count, timeout=120)
    return {Path(i["path"]).stem: i["id"]
            for i in daemon.request("GET", "/api/images?per_page=50")["items"]}


def test_stacks_keepers_and_cull_through_the_daemon(tmp_path: Path) -> None:
    lib = tmp_path / "library"
    lib.mkdir()
    shots = burst(lib)
    config, env, daemon = start_daemon(tmp_path, lib)
    try:
        ids = indexed(daemon, 5)
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


def test_a_files_modification_time_links_no_shots(tmp_path: Path) -> None:
    """Files copied in one go are modified seconds apart whenever they were taken: those
    times form no burst. The same files given their own capture times do."""
    lib = tmp_path / "library"
    lib.mkdir()
    shots = burst(lib)
    for i in (1, 2, 3):  # the burst's files as a copy leaves them: no EXIF, close mtimes
        path = shots[f"burst-{i}"]
        with Image.open(path) as img:
            img.save(path, quality=90)  # Pillow writes no EXIF unless given one
        os.utime(path, (1_800_000_000 + i, 1_800_000_000 + i))
    _, _, daemon = start_daemon(tmp_path, lib)
    try:
        ids = indexed(daemon, 5)
        wait_until(lambda: daemon.request("GET", f"/api/images/{ids['burst-3']}")[
            "taken_source"] == "file-modified", timeout=30)
        assert daemon.request("GET", "/api/stacks")["total"] == 0
        for i in (1, 2, 3):
            taken_at(shots[f"burst-{i}"], 1_700_000_000 + 2 * i)
        stacks = wait_until(lambda: daemon.request("GET", "/api/stacks")["stacks"], timeout=60)
        assert len(stacks) == 1 and len(stacks[0]["members"]) == 3
    finally:
        daemon.kill()


def bracket_of_coffee(folder: Path) -> list[Path]:
    """A real photo (scikit-image's coffee) as a camera's bracket: -2, 0 and +2 EV in
    linear light, one second apart, with the EXIF a camera writes."""
    from PIL.TiffImagePlugin import IFDRational
    from skimage import data

    from tests.test_exposure import stops_changed

    scene = Image.fromarray(data.coffee()).convert("RGB")
    made = []
    for second, step in enumerate((-2, 0, 2)):
        exif = Image.Exif()
        ifd = exif.get_ifd(0x8769)
        ifd[0x9204] = IFDRational(step, 1)
        ifd[0x9003] = f"2024:05:01 10:00:0{second}"
        path = folder / f"bracket{step:+d}.jpg"
        stops_changed(scene, step).save(path, exif=exif, quality=90)
        made.append(path)
    return made


def test_brackets_by_exif_exposure_bias_are_kept_whole(tmp_path: Path) -> None:
    from anagnorisisd.features.culling.stacks import find_brackets

    taken = np.asarray([0.0, 1.0, 2.0, 3.0, 9.0, 10.0, 20.0])
    bias = np.asarray([-2.0, 0.0, 2.0, 2.0, 0.0, 0.0, np.nan])
    assert [r.tolist() for r in find_brackets(taken, bias)] == [[0, 1, 2]]

    lib = tmp_path / "library"
    lib.mkdir()
    bracket_of_coffee(lib)
    shots = burst(lib)
    config, env, daemon = start_daemon(tmp_path, lib)
    try:
        ids = indexed(daemon, 8)
        stacks = wait_until(lambda: (lambda s: s if len(s) == 2 else None)(
            daemon.request("GET", "/api/stacks")["stacks"]), timeout=30)
        kinds = {s["kind"]: s for s in stacks}
        assert set(kinds) == {"burst", "bracket"}
        bracket = kinds["bracket"]
        assert bracket["members"] == [ids["bracket-2"], ids["bracket+0"], ids["bracket+2"]]
        assert bracket["keeper"] == ids["bracket+0"] and "-2, +0, +2 EV" in bracket["reason"]
        dry = run_cli("cull", "--dry-run", "--config", str(config), env=env)
        assert dry.returncode == 0, dry.stderr
        planned = [line.split("/")[-1] for line in dry.stdout.splitlines()]
        assert planned and not any(name.startswith("bracket") for name in planned)
        assert all(p.exists() for p in shots.values())
        queue = daemon.request("GET", "/api/cull")  # the panel's cull queue holds none
        queued = {i for g in queue["groups"] for i in g["members"]}
        assert queued and not queued & set(bracket["members"])
    finally:
        daemon.kill()


def pan_frames(folder: Path, start: int) -> list[Path]:
    """Four frames of a real photo (face-api's third demo photo) panning right, two
    seconds apart, each overlapping the next by two thirds, as a hand-held pan."""
    from tools.npm_files import FACE_API_PHOTOS

    scene = Image.open(FACE_API_PHOTOS.fetch(Path(__file__).resolve().parent.parent / ".venv"
                                             / "npm")[2]).convert("RGB")
    scene.thumbnail((1440, 1440))
    frames = []
    for k, left in enumerate(range(0, 3 * 230 + 1, 230)):
        path = folder / f"pan-{k}.jpg"
        scene.crop((left, 0, left + 700, scene.height)).save(path, quality=90)
        taken_at(path, start + 2 * k)
        frames.append(path)
    return frames


def test_a_pan_is_told_from_a_burst_by_its_pixels(tmp_path: Path) -> None:
    import io

    from anagnorisisd.features.culling.pixels import frame_shift, pan_direction, panning_runs

    def thumb(path: Path) -> bytes:
        out = io.BytesIO()
        with Image.open(path) as img:
            img.thumbnail((320, 320))
            img.save(out, "JPEG", quality=85)
        return out.getvalue()

    frames = [thumb(p) for p in pan_frames(tmp_path, 0)]
    steps = [pan_direction(frame_shift(a, b)) for a, b in itertools.pairwise(frames)]
    assert steps == ["right", "right", "right"]
    shots = [thumb(p) for p in burst(tmp_path).values()]
    assert pan_direction(frame_shift(shots[0], shots[2])) is None  # reframed a little
    assert pan_direction(frame_shift(shots[0], shots[3])) is None  # another scene
    assert panning_runs(["right", "right", None, "left", "down", "right"]) == [(0, 2), (3, 6)]
    assert panning_runs([None, None]) == []


def test_a_panorama_is_kept_whole(tmp_path: Path) -> None:
    lib = tmp_path / "library"
    lib.mkdir()
    frames = pan_frames(lib, 1_600_000_000)
    shots = burst(lib)
    config, env, daemon = start_daemon(tmp_path, lib)
    try:
        ids = indexed(daemon, 9)
        stacks = wait_until(lambda: (lambda s: s if {x["kind"] for x in s} == {
            "burst", "panorama"} else None)(daemon.request("GET", "/api/stacks")["stacks"]),
            timeout=30)
        (pano,) = [s for s in stacks if s["kind"] == "panorama"]
        assert pano["members"] == [ids[p.stem] for p in frames]
        assert "panorama of 4 frames" in pano["reason"]
        dry = run_cli("cull", "--dry-run", "--config", str(config), env=env)
        planned = [line.split("/")[-1] for line in dry.stdout.splitlines()]
        assert planned and not any(name.startswith("pan-") for name in planned), planned
        assert all(p.exists() for p in shots.values())
    finally:
        daemon.kill()
