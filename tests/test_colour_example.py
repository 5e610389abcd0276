"""The worked third-party feature (examples/anagnorisisd-colour) works installed with pip
into a fresh venv beside anagnorisisd's wheel, through its two entry points alone: its
stage stores each photo's colours, `color:` finds them (in the daemon and in a search with
no daemon), GET /api/colors counts them, and each is in the vocabulary and the OpenAPI
document. Nothing of the core names it."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

from PIL import Image

from tests.helpers import REPO, Daemon, free_port, make_photo, wait_until, write_config

EXAMPLE = REPO / "examples" / "anagnorisisd-colour"


def fresh_venv(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A new venv with anagnorisisd's wheel and the example installed by pip, as a user
    would; its dependencies seen through a .pth line (nothing downloaded)."""
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(dist), str(REPO)], check=True,
                   timeout=300, cwd=tmp_path, capture_output=True)
    (wheel,) = dist.glob("anagnorisisd-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig."
                              "get_paths()['purelib'])"], capture_output=True, text=True,
                             check=True).stdout.strip()
    (Path(purelib) / "test-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    source = tmp_path / "colour-src"  # a copy: the build leaves the repository alone
    shutil.copytree(EXAMPLE, source)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                    "--no-build-isolation", "-w", str(dist), str(source)], check=True,
                   timeout=300, cwd=tmp_path, capture_output=True)
    (example,) = dist.glob("anagnorisisd_colour-*.whl")
    for package in (wheel, example):
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                        str(package)], check=True, timeout=300, cwd=tmp_path, env=env,
                       capture_output=True)
    return python, env


def get(port: int, path: str) -> object:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as response:
        return json.loads(response.read())


def test_the_colour_feature_installs_and_answers_its_word_route_and_vocabulary(
        tmp_path: Path) -> None:
    python, env = fresh_venv(tmp_path)
    library = tmp_path / "library"
    library.mkdir()
    for name, rgb in (("tomato", (220, 40, 30)), ("sky", (30, 80, 220)),
                      ("grass", (40, 160, 60))):
        Image.new("RGB", (160, 120), rgb).save(library / f"{name}.png")
    make_photo(library / "photo.jpg", 160, 120, seed=3)
    config = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(library)]}, "storage": {"data_dir": str(tmp_path / "data")},
        "server": {"port": free_port()}, "model": {"auto_pull": False},
        "pipeline": {"stages": ["hash", "meta", "thumbnail", "colour"]}})
    port = tomllib.loads(config.read_text())["server"]["port"]
    daemon = Daemon(config, port, env={"PATH": env["PATH"]}, python=str(python),
                    cwd=tmp_path)
    try:
        wait_until(lambda: daemon.status()["stages"]["colour"]["done"] == 4, timeout=120)
        assert "colour" in daemon.status()["features"]["loaded"]
        found = daemon.request("GET", "/api/images?q=color:red")["items"]
        assert [Path(i["path"]).name for i in found] == ["tomato.png"]
        near = daemon.request("GET", "/api/images?q=" + urllib.request.quote("color:#2050e0"))
        assert [Path(i["path"]).name for i in near["items"]] == ["sky.png"]
        blue = sorted(Path(i["path"]).name for i in daemon.request(
            "GET", "/api/images?q=color:blue")["items"])
        assert "sky.png" in blue
        without = daemon.request("GET", "/api/images?q=-color:red")["items"]
        assert "tomato.png" not in {Path(i["path"]).name for i in without}
        counts = {c["name"]: c["count"] for c in daemon.request("GET", "/api/colors")[
            "colors"]}
        assert counts["red"] == 1 and counts["blue"] >= 1 and counts["green"] >= 1
        words = {w["word"]: w for w in daemon.request("GET", "/api/vocabulary")["words"]}
        assert words["color:"]["feature"] == "colour" and "#RRGGBB" in words["color:"]["help"]
        spec = daemon.request("GET", "/api/openapi.json")
        assert spec["paths"]["/api/colors"]["get"]["tags"] == ["colour"]
        assert daemon.request("GET", "/api/features")["panels"]["colour"] == "panel.js"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/features/colour/panel.js",
                                    timeout=30) as panel:
            assert b"export async function register" in panel.read()
    finally:
        daemon.stop()
    offline = subprocess.run([str(python), "-m", "anagnorisisd", "search", "color:blue",
                              "--json", "--config", str(config)], capture_output=True,
                             text=True, timeout=120, cwd=tmp_path, env=env)
    assert offline.returncode == 0, offline.stderr
    # with no daemon, the same answer as the daemon's
    assert sorted(Path(i["path"]).name for i in json.loads(offline.stdout)["items"]) == blue
