"""Config: strict schema, one-line errors, search order and environment overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from anagnorisisd.config import ConfigError, build_config, load_config
from tests.helpers import run_cli, write_config


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[server]\nprot = 8080\n", "unknown key [server] prot"),
        ("[server]\nport = \"eighty\"\n", "[server] port must be an integer"),
        ("[library]\npaths = \"/photos\"\n", "[library] paths must be a list of a string"),
        ("[watcher]\nenabled = 1\n", "[watcher] enabled must be true or false"),
        ("[serverr]\nport = 1\n", "unknown section [serverr]"),
        ("[server\nport = 1\n", "not valid TOML"),
        ("[stages.thumbnail]\nsize = \"big\"\n", "[stages.thumbnail] size must be an integer"),
        ("[stages.thumbnail]\nsharpness = 3\n", "unknown key [stages.thumbnail] sharpness"),
        ("[stages.nosuch]\nx = 1\n", "[stages.nosuch] configures a stage that is not installed"),
    ],
)
def test_bad_config_is_one_line_naming_the_key_and_exit_2(tmp_path: Path, text: str,
                                                          needle: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text + f'[storage]\ndata_dir = "{tmp_path / "data"}"\n')
    result = run_cli("status", "--json", "--config", str(config))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    result = run_cli("index", "--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2
    assert "config file not found" in result.stderr


def test_index_refuses_a_missing_library_path(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(f'[library]\npaths = ["{tmp_path / "absent"}"]\n'
                      f'[storage]\ndata_dir = "{tmp_path / "data"}"\n')
    result = run_cli("index", "--config", str(config))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"anagnorisisd: config error: [library] paths: {tmp_path / 'absent'} does not exist "
        "or is not a directory"
    ]


def test_search_order_and_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for name in ("ANAGNORISISD_CONFIG", "ANAGNORISISD_SERVER__PORT"):
        monkeypatch.delenv(name, raising=False)
    assert load_config().source == "built-in defaults"
    xdg = tmp_path / "xdg" / "anagnorisisd" / "config.toml"
    xdg.parent.mkdir(parents=True)
    xdg.write_text("[server]\nport = 1111\n")
    assert load_config().server.port == 1111
    (tmp_path / "config.toml").write_text("[server]\nport = 2222\n")
    assert load_config().server.port == 2222
    monkeypatch.setenv("ANAGNORISISD_SERVER__PORT", "3333")
    monkeypatch.setenv("ANAGNORISISD_LIBRARY__PATHS", '["/a", "/b"]')
    monkeypatch.setenv("ANAGNORISISD_SERVER__HOST", "localhost")
    config = load_config()
    assert (config.server.port, config.server.host) == (3333, "localhost")
    assert config.library.paths == ["/a", "/b"]
    monkeypatch.setenv("ANAGNORISISD_SERVER__PORT", "many")
    with pytest.raises(ConfigError, match=r"\[server\] port must be an integer"):
        load_config()


def test_shipped_config_documents_every_key() -> None:
    """config.toml is the reference: it must parse and list every key of the schema."""
    import dataclasses
    import tomllib

    from anagnorisisd.config import SECTIONS

    repo_config = Path(__file__).resolve().parent.parent / "config.toml"
    raw = tomllib.loads(repo_config.read_text())
    build_config(raw)
    for section, schema in SECTIONS.items():
        for f in dataclasses.fields(schema):
            assert f.name in raw[section], f"config.toml does not document [{section}] {f.name}"


def test_the_cli_asks_no_port_it_was_not_told_of(tmp_path: Path) -> None:
    """Another program on the configured port (8765, say) is never asked: the CLI finds a
    daemon only through the note the daemon leaves in its own data directory, and a bad
    config is rejected before anything else happens."""
    import http.server
    import json
    import threading

    asked: list[str] = []

    class Stranger(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = json.dumps({"files": {"total": 999}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    stranger = http.server.HTTPServer(("127.0.0.1", 0), Stranger)
    threading.Thread(target=stranger.serve_forever, daemon=True).start()
    try:
        port = stranger.server_port
        good = write_config(tmp_path / "good.toml", {
            "storage": {"data_dir": str(tmp_path / "data")}, "server": {"port": port},
            "pipeline": {"stages": ["hash"]}})
        result = run_cli("status", "--json", "--config", str(good))
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["daemon"] == "not running"
        bad = write_config(tmp_path / "bad.toml", {"server": {"port": port, "prot": 1}})
        result = run_cli("status", "--config", str(bad))
        assert result.returncode == 2 and "prot" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
        assert asked == []
    finally:
        stranger.shutdown()
