"""Model management: pull from a hub on loopback, import, list, and a daemon without a model."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest

from anagnorisisd.ml.manager import shipped_model_dir
from tests.helpers import Daemon, make_photo, run_cli, wait_until, write_config
from tests.hub_server import FakeHub

MINI = shipped_model_dir("shapes-clip-mini")
LAYOUT = {"config.json", "visual/model.onnx", "visual/preprocess_cfg.json", "textual/model.onnx",
          "textual/tokenizer.json", "textual/tokenizer_config.json"}


@pytest.fixture
def hub_repo(tmp_path: Path) -> Path:
    """The small model as a hub repo, with extra files that pull must not fetch."""
    repo = tmp_path / "hub" / "shapes-clip-mini"
    shutil.copytree(MINI, repo)
    (repo / "README.md").write_text("# a model card\n")
    (repo / "pytorch").mkdir()
    (repo / "pytorch" / "weights.bin").write_bytes(b"\0" * 4096)
    return repo


def installed_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and ".cache" not in p.parts}


def test_pull_fetches_only_the_layout_resumably_from_hf_endpoint(tmp_path: Path,
                                                                 hub_repo: Path) -> None:
    env = {"ANAGNORISISD_STORAGE__DATA_DIR": str(tmp_path / "data")}
    # A graph big enough that huggingface_hub has flushed 10 MB chunks before the break.
    (hub_repo / "textual" / "model.onnx").write_bytes(np.random.default_rng(0).bytes(24 << 20))
    with FakeHub({"immich-app/shapes-clip-mini": hub_repo}) as hub:
        env["HF_ENDPOINT"] = hub.url
        hub.fail_after_bytes = 16 << 20  # the first download of the big file breaks off
        last = run_cli("model", "pull", "shapes-clip-mini", env=env)
        if last.returncode != 0:  # the library gave up: the next pull must resume
            assert last.stderr.strip().splitlines()[-1].startswith(
                "anagnorisisd: cannot download immich-app/shapes-clip-mini")
            last = run_cli("model", "pull", "shapes-clip-mini", env=env)
        fetched = [path for method, path, _ in hub.requests if method == "GET"]
        ranged = [rng for method, _, rng in hub.requests if rng]
    assert last.returncode == 0, last.stderr
    assert ranged, "the broken download was not resumed with a Range request"
    target = tmp_path / "data" / "models" / "shapes-clip-mini"
    assert installed_files(target) == LAYOUT
    assert not any("README" in p or "weights.bin" in p for p in fetched)
    assert "100%" in last.stderr  # huggingface_hub's progress bar
    for name in LAYOUT:
        assert (target / name).read_bytes() == (hub_repo / name).read_bytes()

    listing = json.loads(run_cli("model", "list", "--json", env={
        **env, "ANAGNORISISD_MODEL__NAME": "shapes-clip-mini"}).stdout)
    assert listing["active"] == "shapes-clip-mini"
    assert listing["models"][0]["name"] == "shapes-clip-mini"
    assert listing["models"][0]["active"] and listing["models"][0]["embed_dim"] == 64


def test_pull_of_an_unknown_repo_is_one_line(tmp_path: Path) -> None:
    with FakeHub({}) as hub:
        result = run_cli("model", "pull", "nope", env={
            "HF_ENDPOINT": hub.url, "ANAGNORISISD_STORAGE__DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith(
        "anagnorisisd: cannot download immich-app/nope")


def test_import_checks_the_layout_and_names_the_model_after_its_folder(tmp_path: Path) -> None:
    env = {"ANAGNORISISD_STORAGE__DATA_DIR": str(tmp_path / "data")}
    broken = tmp_path / "my-model"
    shutil.copytree(MINI, broken)
    (broken / "textual" / "tokenizer.json").unlink()
    result = run_cli("model", "import", str(broken), env=env)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"anagnorisisd: cannot import {broken}: model 'my-model' at "
                                     f"{broken} lacks textual/tokenizer.json")
    shutil.copy(MINI / "textual" / "tokenizer.json", broken / "textual" / "tokenizer.json")
    assert run_cli("model", "import", str(broken), env=env).returncode == 0
    listed = run_cli("model", "list", env=env).stdout
    assert "my-model" in listed and "64-d" in listed
    assert ("the model in use, 'ViT-B-32__laion2b-s34b-b79k', is not installed; to use one "
            'that is, set [model] name = "my-model"') in listed

    available = run_cli("model", "list", "--available", env=env)
    assert available.returncode == 0, available.stderr
    default_line = next(line for line in available.stdout.splitlines()
                        if "ViT-B-32__laion2b-s34b-b79k " in line)
    assert default_line.startswith("*") and "68.8 %" in default_line  # immich's figure
    assert "nllb-clip-base-siglip__v1" in available.stdout and "multilingual" in available.stdout
    doc = json.loads(run_cli("model", "list", "--available", "--json", env=env).stdout)
    names = {m["name"] for m in doc["models"]}
    assert doc["default"] in names and "LABSE-Vit-L-14" in names and len(names) >= 50


def test_import_activate_changes_only_the_model_line_of_the_config(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    written = ('# my settings\n[storage]\ndata_dir = "' + str(tmp_path / "data") + '"\n\n'
               '[model]\n# the one I use\nname = "ViT-B-32__laion2b-s34b-b79k"\n'
               "auto_pull = false\n")
    config.write_text(written)
    told = run_cli("model", "import", str(MINI), "--config", str(config))
    assert told.returncode == 0, told.stderr
    assert f"--activate, or set [model] name = \"shapes-clip-mini\" in {config}" in told.stdout
    done = run_cli("model", "import", str(MINI), "--activate", "--config", str(config))
    assert done.returncode == 0 and "shapes-clip-mini is now the model in use" in done.stdout
    assert config.read_text() == written.replace("ViT-B-32__laion2b-s34b-b79k",
                                                 "shapes-clip-mini")
    listed = run_cli("model", "list", "--config", str(config)).stdout
    assert listed.startswith("* shapes-clip-mini") and "not installed" not in listed
    # no config file at all: said, nothing written anywhere
    env = {"ANAGNORISISD_STORAGE__DATA_DIR": str(tmp_path / "data2"),
           "XDG_CONFIG_HOME": str(tmp_path / "empty")}
    (tmp_path / "elsewhere").mkdir()
    alone = run_cli("model", "import", str(MINI), "--activate", env=env,
                    cwd=tmp_path / "elsewhere")
    assert alone.returncode == 2 and "no config file to change" in alone.stderr


def test_a_shipped_model_is_imported_never_pulled_and_env_sets_any_stage_key(
        tmp_path: Path) -> None:
    from anagnorisisd.config import load_config
    from anagnorisisd.ml.layout import install_hint

    assert install_hint("shapes-clip-mini") == (
        f"'shapes-clip-mini' ships with anagnorisisd: 'anagnorisisd model import {MINI}' "
        "installs it")
    assert "model pull ViT-B-32" in install_hint("ViT-B-32__laion2b-s34b-b79k")
    write_config(tmp_path / "c.toml", {"model": {"auto_pull": False}})
    import os

    os.environ["ANAGNORISISD_STAGES__FACES__BACKEND"] = "remote"  # bare, as a shell writes it
    try:
        assert load_config(tmp_path / "c.toml").stages["faces"]["backend"] == "remote"
    finally:
        del os.environ["ANAGNORISISD_STAGES__FACES__BACKEND"]


def start_daemon(make_config, **sections: dict) -> Daemon:
    config = make_config(**sections)
    return Daemon(config, tomllib.loads(config.read_text())["server"]["port"])


ALL_STAGES = {"pipeline": {"stages": ["hash", "meta", "thumbnail", "clip"]}}


def test_missing_model_is_one_line_and_everything_else_works(make_config,
                                                            library_dir: Path) -> None:
    for i in range(3):
        make_photo(library_dir / f"{i}.jpg", seed=i)
    d = start_daemon(make_config, library={"paths": [str(library_dir)]},
                     model={"name": "absent-model", "auto_pull": False}, **ALL_STAGES)
    try:
        wait_until(lambda: d.status()["files"]["done"] == 3)
        status = d.status()
        assert status["model"]["state"] == "unavailable"
        problem = status["model"]["problem"]
        assert problem.startswith("model 'absent-model' is not installed; 'anagnorisisd model "
                                  "pull absent-model' downloads it")
        # offline, pulling cannot work: where else a model comes from is said too
        assert "anagnorisisd model import DIR" in problem and "make demo" in problem
        assert status["stages"]["thumbnail"]["done"] == 3
        assert status["stages"]["clip"]["done"] == 0 and status["stages"]["clip"]["pending"] == 3
    finally:
        d.kill()
    cli = run_cli("index", "--config", str(d.config))
    assert "semantic search unavailable: model 'absent-model' is not installed" in cli.stderr


def test_a_model_installed_while_the_daemon_runs_is_picked_up(make_config, library_dir: Path,
                                                             tmp_path: Path) -> None:
    make_photo(library_dir / "a.jpg")
    d = start_daemon(make_config, library={"paths": [str(library_dir)]},
                     model={"name": "shapes-clip-mini", "auto_pull": False},
                     scheduler={"model_check_s": 1}, **ALL_STAGES)
    try:
        wait_until(lambda: d.status()["files"]["done"] == 1)
        assert d.status()["model"]["state"] == "unavailable"
        result = run_cli("model", "import", str(MINI), "--config", str(d.config))
        assert result.returncode == 0, result.stderr
        wait_until(lambda: d.status()["stages"]["clip"]["done"] == 1, timeout=20)
        assert d.status()["model"]["state"] == "ready"
    finally:
        d.kill()


def test_corrupt_model_is_reported_and_the_rest_keeps_working(make_config, library_dir: Path,
                                                             tmp_path: Path) -> None:
    models = tmp_path / "data" / "models"
    shutil.copytree(MINI, models / "broken")
    (models / "broken" / "visual" / "model.onnx").write_bytes(b"not a graph")
    make_photo(library_dir / "a.jpg")
    d = start_daemon(make_config, library={"paths": [str(library_dir)]},
                     model={"name": "broken"}, **ALL_STAGES)
    try:
        wait_until(lambda: d.status()["files"]["done"] == 1)
        wait_until(lambda: d.status()["model"]["problem"] != "not loaded yet")
        problem = d.status()["model"]["problem"]
        assert problem.startswith("cannot load ") and "visual/model.onnx" in problem
        assert "'anagnorisisd model pull broken'" in problem
        assert "'anagnorisisd model import DIR'" in problem and "make demo" in problem
    finally:
        d.kill()


def test_serve_pulls_a_missing_model_in_the_background(make_config, library_dir: Path,
                                                      hub_repo: Path) -> None:
    for i in range(4):
        make_photo(library_dir / f"{i}.jpg", seed=i)
    with FakeHub({"immich-app/shapes-clip-mini": hub_repo}) as hub:
        config = make_config(library={"paths": [str(library_dir)]},
                             model={"name": "shapes-clip-mini", "auto_pull": True}, **ALL_STAGES)
        d = Daemon(config, tomllib.loads(config.read_text())["server"]["port"],
                   env={"HF_ENDPOINT": hub.url})
        try:
            assert d.status()["version"]  # the server answers while the model is missing
            wait_until(lambda: d.status()["stages"]["clip"]["done"] == 4, timeout=60)
            status = d.status()
            assert status["model"]["state"] == "ready"
            assert status["model"]["pull"]["state"] == "done"
            assert status["model"]["pull"]["bytes_done"] >= (
                hub_repo / "visual" / "model.onnx").stat().st_size
            assert status["model"]["identity"].startswith("shapes-clip-mini@")
        finally:
            d.kill()


def test_config_section_is_validated(tmp_path: Path) -> None:
    config = write_config(tmp_path / "c.toml", {"model": {"auto_pull": "yes"}})
    result = run_cli("status", "--config", str(config))
    assert result.returncode == 2
    assert "[model] auto_pull must be true or false" in result.stderr
