"""The OpenAPI document matches what the server does: schemathesis drives the real daemon."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from anagnorisisd.app.shapes import make_library
from anagnorisisd.ml.manager import shipped_model_dir
from tests.helpers import Daemon, free_port, wait_until, write_config

schemathesis = pytest.importorskip("schemathesis")
MINI = shipped_model_dir("shapes-clip-mini")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    root = tmp_path_factory.mktemp("openapi")
    make_library(root / "library", 40, seed=5)
    shutil.copytree(MINI, root / "data" / "models" / "shapes-clip-mini")
    config = write_config(root / "config.toml", {
        "library": {"paths": [str(root / "library")]},
        "storage": {"data_dir": str(root / "data")}, "server": {"port": free_port()},
        "model": {"name": "shapes-clip-mini", "auto_pull": False},
        "index": {"check_interval_s": 1, "min_rebuild_interval_s": 0},
    })
    d = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    wait_until(lambda: d.status()["index"]["items"] == 40, timeout=60)
    yield d
    d.kill()


def test_api_conforms_to_its_openapi_document(daemon: Daemon, tmp_path: Path) -> None:
    """schemathesis's own runner, every check, against the real server on loopback."""
    command = [
        str(Path(sys.executable).parent / "st"),
        # Every check, positive data acceptance included: a request the document calls valid
        # is never refused. The one operation whose valid input may not be a picture says
        # so there (422), and the config file says so to schemathesis.
        "--config-file", str(Path(__file__).with_name("schemathesis.toml")), "run",
        f"http://127.0.0.1:{daemon.port}/api/openapi.json",
        "--checks", "all", "--max-examples", "25", "--generation-deterministic",
        # Re-targeting the library at whatever path a fuzzer invents would scan this machine;
        # every other PUT (ratings, decisions) is run.
        "--exclude-path", "/api/library",
        # An endless stream by design; its first event is checked in the test below.
        "--exclude-path", "/api/events",
        "--report-dir", str(tmp_path),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            env={**os.environ, "NO_COLOR": "1"})
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


def test_every_route_of_the_server_is_in_the_openapi_document(daemon: Daemon) -> None:
    """The router and the document list the same (method, path) pairs: a route added without
    documenting it (or documented and gone) fails here. The core's routes are read from
    its source; each feature's are its Route objects, which carry their own operation."""
    import re

    spec = daemon.request("GET", "/api/openapi.json")
    documented = {(method.upper(), path) for path, ops in spec["paths"].items()
                  for method in ops}
    served: set[tuple[str, str]] = set()
    package = Path(__file__).resolve().parent.parent / "anagnorisisd"
    for source in package.rglob("*.py"):
        for match in re.finditer(r'add_(get|post|put|delete)\(\s*"(/api/[^"]+)"',
                                 source.read_text()):
            served.add((match[1].upper(), re.sub(r"\{(\w+):.*?\}(?=/|$)", r"{\1}", match[2])))
    features = {(method.upper(), path) for path, ops in spec["paths"].items()
                for method, op in ops.items() if op.get("tags")}
    assert served, "no routes found"
    assert served | features == documented, (served - documented, documented - served)
    assert not served & features  # a core route is never a feature's too


def test_the_event_stream_sends_the_status_document(daemon: Daemon) -> None:
    import json
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{daemon.port}/api/events",
                                timeout=30) as stream:
        lines = [stream.readline().decode() for _ in range(2)]
    assert lines[0].strip() == "event: status"
    assert "files" in json.loads(lines[1].removeprefix("data: "))
