"""The worked example in examples/ is a real third-party stage: installed with pip through its
own entry point, run in-process by the sequential runner, and visible in the API."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from anagnorisisd.config import build_config
from anagnorisisd.ingest.scanner import scan
from anagnorisisd.pipeline.registry import assemble
from anagnorisisd.pipeline.runner import Pipeline
from anagnorisisd.store.database import Store
from tests.helpers import REPO, Daemon, free_port, make_photo, wait_until, write_config

EXAMPLE = REPO / "examples" / "anagnorisisd-brightness"


def install(target: Path) -> Path:
    """pip install, as a user would; from a copy, so the build leaves the repository alone."""
    source = target.parent / "example-src"
    shutil.copytree(EXAMPLE, source)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps",
                    "--no-build-isolation", "--target", str(target), str(source)],
                   check=True, timeout=300, cwd=target.parent)
    return target


def test_the_example_stage_runs_in_process_and_in_the_daemon(tmp_path: Path) -> None:
    site = install(tmp_path / "site")
    library = tmp_path / "library"
    for i in range(2):
        make_photo(library / f"{i}.jpg", 200, 150, seed=i)
    from PIL import Image

    Image.new("RGB", (200, 150), (250, 250, 250)).save(library / "white.png")
    sys.path.insert(0, str(site))
    try:
        config = build_config({"storage": {"data_dir": str(tmp_path / "data")},
                               "pipeline": {"stages": ["hash", "meta", "brightness"]},
                               "stages": {"brightness": {"size": 32}}})
        store = Store(config.data_dir)
        assembly = assemble(config)
        assert assembly.names() == ["hash", "meta", "brightness"], assembly.problems
        scan(store, [str(library)], config.library.extensions)
        assert Pipeline(store, assembly).run_sequential() == 3  # in-process, no threads
        white = store.get_file(str(library / "white.png"))
        assert white is not None and white.hash is not None
        assert store.get_result(white.hash, "brightness") == {"brightness": 0.9804,
                                                              "format": "png"}
        store.close()
    finally:
        sys.path.remove(str(site))

    config_path = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(library)]}, "storage": {"data_dir": str(tmp_path / "d2")},
        "server": {"port": free_port()},
        "pipeline": {"stages": ["hash", "meta", "thumbnail", "brightness"]},
    })
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    d = Daemon(config_path, tomllib.loads(config_path.read_text())["server"]["port"], env=env)
    try:
        wait_until(lambda: d.status()["stages"]["brightness"]["done"] == 3, timeout=60)
        items = d.request("GET", "/api/images?per_page=10")["items"]
        outputs = {Path(i["path"]).name: d.request("GET", f"/api/images/{i['id']}")["stages"][
            "brightness"]["output"]["brightness"] for i in items}
        assert outputs["white.png"] > 0.95 and outputs["0.jpg"] < outputs["white.png"]
    finally:
        d.kill()
