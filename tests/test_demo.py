"""`anagnorisisd demo DIR`: a newcomer sees semantic search work offline, in one command."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from tests.helpers import run_cli


def test_demo_library_indexes_and_searches_offline(tmp_path: Path) -> None:
    result = run_cli("demo", str(tmp_path / "demo"), "--count", "64", "--port", "1")
    assert result.returncode == 0, result.stderr
    config = tmp_path / "demo" / "config.toml"
    assert f"anagnorisisd serve --config {config}" in result.stdout
    settings = tomllib.loads(config.read_text())
    assert settings["model"] == {"name": "shapes-clip-mini", "auto_pull": False}
    assert len(list((tmp_path / "demo" / "library").rglob("*.jpg"))) == 64

    indexed = run_cli("index", "--config", str(config), timeout=300)
    assert indexed.returncode == 0, indexed.stderr
    assert "indexed 64 files: 64 done, 0 failed" in indexed.stderr
    assert "vector index built: 64 images" in indexed.stderr

    found = json.loads(run_cli("search", "a photo of a red circle", "--limit", "2", "--json",
                               "--config", str(config)).stdout)
    assert [Path(i["path"]).name.startswith("red-circle") for i in found["items"]] == [True, True]
    status = run_cli("status", "--config", str(config)).stdout
    assert "model: shapes-clip-mini@" in status and "index: 64 images" in status
