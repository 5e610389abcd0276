"""Crash safety, clean shutdown, systemd notifications and the CLI/HTTP status agreement."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from anagnorisisd.cli.systemd_notify import SystemdNotifier
from anagnorisisd.store.database import Store
from tests.helpers import REPO, Daemon, make_photo, run_cli, wait_until, write_config

N_FILES = 240


def done_count(data_dir: Path) -> int:
    try:
        store = Store(data_dir, readonly=True)
    except Exception:
        return 0
    try:
        return store.census_snapshot().files["done"]
    finally:
        store.env.close()


def test_kill_9_mid_index_then_restart_loses_and_duplicates_nothing(tmp_path: Path,
                                                                    library_dir: Path) -> None:
    for i in range(N_FILES):
        make_photo(library_dir / f"d{i % 7}" / f"{i}.jpg", 800, 600, seed=i)
    data = tmp_path / "data"
    config = write_config(tmp_path / "c.toml", {
        "library": {"paths": [str(library_dir)]}, "storage": {"data_dir": str(data)},
        "server": {"port": 1}, "pipeline": {"stages": ["hash", "meta", "thumbnail"]},
    })
    proc = subprocess.Popen([sys.executable, "-m", "anagnorisisd", "index", "--config",
                             str(config)], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_until(lambda: done_count(data) >= 20, timeout=60, interval=0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = done_count(data)
    assert killed_at < N_FILES, "index finished before it could be killed; make it slower"

    result = run_cli("index", "--config", str(config))
    assert result.returncode == 0, result.stderr

    store = Store(data)
    try:
        store.set_stage_versions({"meta": "1", "thumbnail": "1:320:jpeg:85"})
        records = list(store.iter_files())
        assert len(records) == N_FILES
        assert all(r.state == "done" and r.hash for r in records)
        assert store.dirty_count() == 0
        for r in records:
            assert r.path in store.paths_for(r.hash)
        hashes = {r.hash for r in records}
        assert sorted(store.live_hashes()) == sorted(hashes)
        assert sum(len(store.paths_for(h)) for h in hashes) == N_FILES
        for h in hashes:
            assert store.get_result(h, "thumbnail") is not None
            assert store.get_result(h, "meta") is not None
        census = store.census_snapshot()
        assert census.files["done"] == N_FILES and census.stage_done["thumbnail"] == N_FILES
    finally:
        store.close()


def test_status_json_from_cli_matches_the_api(daemon: Daemon, library_dir: Path,
                                              tmp_path: Path) -> None:
    for i in range(3):
        make_photo(library_dir / f"{i}.jpg", seed=i)
    wait_until(lambda: daemon.status()["files"]["done"] == 3)
    config = str(daemon.config)
    live = json.loads(run_cli("status", "--json", "--config", config).stdout)
    api = daemon.status()
    assert live["daemon"] == "running"
    for key in ("files", "library", "content", "version", "plugins"):
        assert live[key] == api[key]
    assert daemon.stop() == 0
    offline = json.loads(run_cli("status", "--json", "--config", config).stdout)
    assert offline["daemon"] == "not running"
    assert offline["files"] == api["files"]
    assert {k: {c: v[c] for c in ("done", "pending", "failed")} for k, v in
            offline["stages"].items()} == {k: {c: v[c] for c in ("done", "pending", "failed")}
                                           for k, v in api["stages"].items()}
    assert {"version", "uptime_s", "library", "files", "stages"} <= set(offline)
    human = run_cli("status", "--config", config).stdout
    assert "files: 3 total, 3 done, 0 failed, 0 pending" in human


def test_systemd_ready_watchdog_stopping(make_config, tmp_path: Path) -> None:
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(0.2)
    config = make_config()
    port = tomllib.loads(config.read_text())["server"]["port"]
    d = Daemon(config, port, env={"NOTIFY_SOCKET": str(sock_path), "WATCHDOG_USEC": "400000"})
    messages: list[str] = []

    def drain() -> None:
        while True:
            try:
                messages.append(sock.recv(4096).decode())
            except TimeoutError:
                return

    try:
        time.sleep(0.6)
        drain()
        assert messages[0].startswith("READY=1")
        assert messages.count("WATCHDOG=1") >= 2
        assert d.stop() == 0
        drain()
        assert "STOPPING=1" in messages
    finally:
        d.kill()
        sock.close()


def test_notifier_is_a_no_op_outside_systemd() -> None:
    notifier = SystemdNotifier({})
    assert not notifier.enabled
    assert notifier.ready() is False and notifier.watchdog() is False
    assert notifier.watchdog_interval_s is None


def test_sigint_shuts_down_cleanly(daemon: Daemon) -> None:
    daemon.proc.send_signal(signal.SIGINT)
    assert daemon.proc.wait(30) == 0


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_unit_file_verifies(tmp_path: Path) -> None:
    unit = (REPO / "systemd" / "anagnorisisd.service").read_text()
    target = tmp_path / "anagnorisisd.service"
    target.write_text(unit.replace("@EXEC@", str(Path(sys.executable).parent / "anagnorisisd")))
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    result = subprocess.run(["systemd-analyze", "--user", "verify", str(target)],
                            capture_output=True, text=True,
                            env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)})
    assert result.returncode == 0, result.stderr
    assert "Type=notify" in unit and "WatchdogSec=" in unit
