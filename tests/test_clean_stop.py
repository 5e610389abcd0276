"""SIGTERM while the daemon indexes, regroups people and trains a concept: it exits within
10 s, with every thread it started joined and no traceback (Library.stop joins the
scheduler, the features' threads, the pipeline and its own)."""

from __future__ import annotations

import shutil
import time
import tomllib
from pathlib import Path

from anagnorisisd.app.shapes import make_library
from anagnorisisd.ml.manager import shipped_model_dir
from tests.helpers import Daemon, free_port, wait_until, write_config


def test_sigterm_mid_work_exits_in_time_with_no_thread_left(tmp_path: Path) -> None:
    make_library(tmp_path / "library", 400, seed=21)
    shutil.copytree(shipped_model_dir("shapes-clip-mini"),
                    tmp_path / "data" / "models" / "shapes-clip-mini")
    config = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(tmp_path / "library")]},
        "storage": {"data_dir": str(tmp_path / "data")}, "server": {"port": free_port()},
        "model": {"name": "shapes-clip-mini", "auto_pull": False},
        "pipeline": {"stages": ["hash", "meta", "thumbnail", "quality", "clip", "faces",
                                "face_quality"]}})
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    try:
        wait_until(lambda: daemon.status()["stages"]["clip"]["done"] >= 12, timeout=120)
        ids = [i["id"] for i in daemon.request("GET", "/api/images?per_page=12")["items"]]
        concept = daemon.request("POST", "/api/concepts", {"name": "circles"})["id"]
        daemon.request("POST", f"/api/concepts/{concept}/answers",
                       {"images": ids[:6], "answer": "yes"})
        daemon.request("POST", f"/api/concepts/{concept}/answers",
                       {"images": ids[6:], "answer": "no"})
        daemon.request("POST", "/api/people/regroup")
        assert daemon.status()["files"]["pending"] > 0  # still indexing
        started = time.monotonic()
        assert daemon.stop(timeout=30) == 0
        took = time.monotonic() - started
    finally:
        daemon.kill()
    log = daemon.log.read_text()
    assert took < 10.0, (took, log[-3000:])
    assert "Traceback" not in log, log[-3000:]
    assert "threads left: none" in log, log[-2000:]
