"""The pipeline with third-party stages: version bumps, crashing and broken plugins."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.helpers import make_photo, run_cli, write_config

PLUGINS = Path(__file__).resolve().parent / "fixtures" / "plugins"
ENV = {"PYTHONPATH": f"{PLUGINS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def config_with(tmp_path: Path, library: Path, stages: list[str], **sections: dict) -> Path:
    return write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(library)]},
        "storage": {"data_dir": str(tmp_path / "data")},
        "server": {"port": 1},
        "pipeline": {"stages": stages},
        **{f"stages.{k}": v for k, v in sections.items()},
    })


def test_version_bump_reruns_the_stage_on_all_content(tmp_path: Path, library_dir: Path) -> None:
    for i in range(5):
        make_photo(library_dir / f"{i}.jpg", 200, 150, seed=i)
    log = tmp_path / "counter.log"
    config = config_with(tmp_path, library_dir, ["hash", "meta", "counter"],
                         counter={"version": "1", "log": str(log)})
    assert run_cli("index", "--config", str(config), env=ENV).returncode == 0
    assert len(log.read_text().splitlines()) == 5
    assert run_cli("index", "--config", str(config), env=ENV).returncode == 0
    assert len(log.read_text().splitlines()) == 5, "an unchanged library re-ran the stage"

    config = config_with(tmp_path, library_dir, ["hash", "meta", "counter"],
                         counter={"version": "2", "log": str(log)})
    result = run_cli("index", "--config", str(config), env=ENV)
    assert result.returncode == 0, result.stderr
    assert len(log.read_text().splitlines()) == 10
    status = json.loads(run_cli("status", "--json", "--config", str(config), env=ENV).stdout)
    assert status["stages"]["counter"] == {**status["stages"]["counter"], "done": 5,
                                           "pending": 0, "version": "2"}


def test_broken_and_crashing_plugins_cost_only_themselves(tmp_path: Path,
                                                         library_dir: Path) -> None:
    for i in range(6):
        make_photo(library_dir / f"ok-{i}.jpg", 200, 150, seed=i)
    make_photo(library_dir / "boom.jpg", 200, 150, seed=99)
    config = config_with(tmp_path, library_dir, ["hash", "meta", "broken", "explode"])
    result = run_cli("index", "--config", str(config), env=ENV)
    assert result.returncode == 0, result.stderr
    status = json.loads(run_cli("status", "--json", "--config", str(config), env=ENV).stdout)
    assert "failed to load" in status["plugins"]["problems"]["broken"]
    assert status["files"] == {"total": 7, "done": 6, "failed": 1, "pending": 0}
    assert status["stages"]["explode"]["failed"] == 1
    assert "[explode] RuntimeError: kaboom" in result.stderr


def test_stage_missing_its_requirement_is_reported(tmp_path: Path, library_dir: Path) -> None:
    config = config_with(tmp_path, library_dir, ["meta", "hash"])
    status = json.loads(run_cli("status", "--json", "--config", str(config), env=ENV).stdout)
    assert "must start with exactly one content-hashing stage" in status["plugins"]["problems"][
        "pipeline"]


def test_any_stage_becoming_ready_or_changing_version_at_run_time_is_caught_up(
        tmp_path: Path, library_dir: Path) -> None:
    """Not only the model service: a third-party stage that turns ready, or changes its
    version, while the daemon runs gets every content re-queued for it."""
    import tomllib

    from tests.helpers import Daemon, free_port, wait_until

    for i in range(4):
        make_photo(library_dir / f"{i}.jpg", 200, 150, seed=i)
    gate, version = tmp_path / "gate", tmp_path / "version"
    version.write_text("1")
    config = config_with(tmp_path, library_dir, ["hash", "meta", "gated"],
                         gated={"gate": str(gate), "version_file": str(version)})
    text = config.read_text().replace("port = 1", f"port = {free_port()}")
    config.write_text(text)
    d = Daemon(config, tomllib.loads(text)["server"]["port"], env=ENV)
    try:
        wait_until(lambda: d.status()["files"]["done"] == 4, timeout=30)
        assert d.status()["stages"]["gated"]["done"] == 0  # passed by, not failed
        assert d.status()["files"]["failed"] == 0
        gate.touch()  # ready now
        wait_until(lambda: d.status()["stages"]["gated"]["done"] == 4, timeout=30)
        version.write_text("2")  # and a new version while running

        def outputs() -> list[object]:
            return [d.request("GET", f"/api/images/{i['id']}")["stages"]["gated"]["output"]
                    for i in d.request("GET", "/api/images?per_page=10")["items"]]

        wait_until(lambda: outputs() == [{"version": "2"}] * 4, timeout=30)
        assert d.status()["stages"]["gated"]["done"] == 4
    finally:
        d.kill()


def test_a_listener_that_raises_never_undoes_a_committed_batch(tmp_path: Path, library_dir: Path,
                                                                caplog) -> None:  # type: ignore[no-untyped-def]
    """The hub guards every listener: one that raises is logged with its name; the batch it
    heard of stays committed and recorded, and the other listeners still hear it."""
    import logging

    from anagnorisisd.config import build_config
    from anagnorisisd.events import FilesFinished, Hub, StageResult
    from anagnorisisd.ingest.scanner import scan
    from anagnorisisd.pipeline.registry import assemble
    from anagnorisisd.pipeline.runner import Pipeline
    from anagnorisisd.store.database import Store

    for i in range(3):
        make_photo(library_dir / f"{i}.jpg", 64, 48, seed=i)
    config = build_config({"storage": {"data_dir": str(tmp_path / "data")},
                           "pipeline": {"stages": ["hash", "meta", "thumbnail"]}})
    hub = Hub()
    heard: list[str] = []

    def broken(_event: StageResult) -> None:
        raise RuntimeError("a listener with a bug")

    hub.subscribe(StageResult, broken, "a broken listener")
    hub.subscribe(StageResult, lambda e: heard.append(e.stage), "a good listener")
    finished: list[int] = []
    hub.subscribe(FilesFinished, lambda e: finished.append(len(e.done)), "counter")
    store = Store(config.data_dir, hub=hub)
    try:
        scan(store, [str(library_dir)], config.library.extensions)
        with caplog.at_level(logging.ERROR, logger="anagnorisisd.events"):
            assert Pipeline(store, assemble(config)).run_sequential() == 3
        assert sorted(heard) == ["meta"] * 3 + ["thumbnail"] * 3
        assert sum(finished) == 3 and store.census_snapshot().files["done"] == 3
        assert "listener a broken listener failed on StageResult" in caplog.text
        assert "could not be recorded" not in caplog.text
    finally:
        store.close()


def test_stop_wakes_waiting_threads_and_never_closes_a_busy_stage(tmp_path: Path,
                                                                   library_dir: Path) -> None:
    """Idle threads wake at once on stop; a stage still inside `process` at the deadline is
    not closed under it (its pool or session would vanish mid-call)."""
    import threading
    import time
    from typing import ClassVar

    from anagnorisisd.config import build_config
    from anagnorisisd.ingest.scanner import scan
    from anagnorisisd.pipeline.registry import Assembly, assemble
    from anagnorisisd.pipeline.runner import Pipeline
    from anagnorisisd.stage import Stage, StageInput, StageOutput
    from anagnorisisd.store.database import Store

    entered, release = threading.Event(), threading.Event()

    class Stuck(Stage):
        name: ClassVar[str] = "stuck"
        closed_while_busy = False
        busy = False

        def process(self, batch: list[StageInput]) -> list[StageOutput]:
            self.busy = True
            entered.set()
            release.wait(30)
            self.busy = False
            return [StageOutput.ok({}) for _ in batch]

        def close(self) -> None:
            Stuck.closed_while_busy = Stuck.closed_while_busy or self.busy

    config = build_config({"storage": {"data_dir": str(tmp_path / "data")},
                           "pipeline": {"stages": ["hash", "meta"]}})
    store = Store(config.data_dir)
    try:
        idle = Pipeline(store, assemble(config))
        idle.start()
        started = time.monotonic()
        idle.stop()
        assert time.monotonic() - started < 1.0
        assert not any(t.is_alive() for t in idle._threads)

        make_photo(library_dir / "a.jpg", 64, 48)
        assembly = assemble(config)
        stuck = Stuck({"enabled": True})
        busy = Pipeline(store, Assembly(stages=[*assembly.stages, stuck]))
        scan(store, [str(library_dir)], config.library.extensions)
        busy.start()
        busy.wake()
        assert entered.wait(30)
        busy.stop(timeout=0.5)
        assert not Stuck.closed_while_busy
        release.set()
        for thread in busy._threads:  # the stuck stage finishes its batch, then stops
            thread.join(30)
        assert not any(t.is_alive() for t in busy._threads)
    finally:
        release.set()
        store.close()
