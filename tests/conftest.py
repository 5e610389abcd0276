from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import Daemon, free_port, write_config


@pytest.fixture
def library_dir(tmp_path: Path) -> Path:
    lib = tmp_path / "library"
    lib.mkdir()
    return lib


@pytest.fixture
def make_config(tmp_path: Path):
    def make(**sections: dict[str, Any]) -> Path:
        merged: dict[str, dict[str, Any]] = {
            "storage": {"data_dir": str(tmp_path / "data")},
            "server": {"port": free_port()},
            "watcher": {"debounce_s": 0.2, "settle_s": 0.2},
            "pipeline": {"stages": ["hash", "meta", "thumbnail"]},
            "model": {"auto_pull": False},
        }
        for name, values in sections.items():
            merged.setdefault(name, {}).update(values)
        return write_config(tmp_path / "config.toml", merged)

    return make


@pytest.fixture
def daemon(make_config, library_dir: Path) -> Iterator[Daemon]:
    config = make_config(library={"paths": [str(library_dir)]})
    import tomllib

    port = tomllib.loads(config.read_text())["server"]["port"]
    d = Daemon(config, port)
    yield d
    d.kill()


def pytest_unconfigure(config: pytest.Config) -> None:
    """The machine's room at the end, printed last, where a CI log's tail shows it: a run
    that failed for want of disk or memory says so."""
    import os
    import shutil
    import tempfile

    free = shutil.disk_usage(tempfile.gettempdir()).free >> 20
    memory = ""
    try:
        with open("/proc/meminfo") as info:
            line = next(x for x in info if x.startswith("MemAvailable"))
            memory = f", memory available {int(line.split()[1]) >> 10} MiB"
    except (OSError, StopIteration, ValueError):
        pass
    load = ", load " + " ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"\nmachine at the end: {tempfile.gettempdir()} has {free} MiB free{memory}{load}")
