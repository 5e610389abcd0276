"""The cull workflow through a real daemon: the review queue, picks and rejects kept in the
store across a kill, plans counted before anything moves, the trash and its undo, and
rate-next asking first about the stack whose keeper is a close call."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

from anagnorisisd.ml.manager import shipped_model_dir
from tests.helpers import Daemon, free_port, http_error, wait_until, write_config
from tests.test_stacks import burst


def start(tmp_path: Path) -> tuple[Daemon, Path, dict[str, str]]:
    config = tmp_path / "config.toml"
    if not config.exists():
        shutil.copytree(shipped_model_dir("shapes-clip-mini"),
                        tmp_path / "data" / "models" / "shapes-clip-mini")
        write_config(config, {
            "library": {"paths": [str(tmp_path / "library")]},
            "storage": {"data_dir": str(tmp_path / "data")},
            "server": {"port": free_port()},
            "model": {"name": "shapes-clip-mini", "auto_pull": False},
            "index": {"check_interval_s": 1, "min_rebuild_interval_s": 0},
            "stacks": {"gap_s": 10, "similarity": 0.9}})
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg")}
    return Daemon(config, tomllib.loads(config.read_text())["server"]["port"], env=env), \
        config, env


def test_review_decide_plan_trash_and_undo(tmp_path: Path) -> None:
    lib = tmp_path / "library"
    lib.mkdir()
    shots = burst(lib)
    daemon, _, _ = start(tmp_path)
    try:
        wait_until(lambda: daemon.status()["stages"]["clip"]["done"] == 5, timeout=90)
        ids = {Path(i["path"]).stem: i["id"]
               for i in daemon.request("GET", "/api/images?per_page=10")["items"]}
        burst_ids = {ids[f"burst-{i}"] for i in (1, 2, 3)}
        queue = wait_until(lambda: (q := daemon.request("GET", "/api/cull"))["total"] and q,
                           timeout=30)
        assert queue["unreviewed"] == 1 and queue["rejects"] == 0
        group = queue["groups"][0]
        assert set(group["members"]) == burst_ids and "stack" in group["kind"]
        assert group["keep"] == [group["keeper"]] and not group["reviewed"]

        # Nothing rated: the stack's keeper is a close call, so rate-next asks about it first.
        asked = daemon.request("GET", "/api/rate-next?count=4")["items"]
        assert {asked[0]["id"], asked[1]["id"]} <= burst_ids
        assert asked[0]["asked"] == "the keeper of its group is a close call"

        # Bad input is a 400 with its reason, never a change.
        assert http_error(daemon, "PUT", f"/api/images/{ids['burst-1']}/decision",
                          {"decision": "maybe"})[0] == 400
        assert http_error(daemon, "POST", "/api/cull/seen", {"ids": ["zz"]})[0] == 400
        assert http_error(daemon, "GET", "/api/cull/plan?what=everything")[0] == 400
        assert http_error(daemon, "PUT", "/api/images/" + "0" * 64 + "/decision",
                          {"decision": "pick"})[0] == 404
        code, body = http_error(daemon, "POST", "/api/files/restore", {"paths": ["/etc/passwd"]})
        assert code == 403 and "not inside the library" in body["error"]

        daemon.request("PUT", f"/api/images/{ids['burst-2']}/decision", {"decision": "pick"})
        daemon.request("PUT", f"/api/images/{ids['burst-3']}/decision", {"decision": "reject"})
        group = daemon.request("GET", "/api/cull")["groups"][0]
        assert group["keep"] == [ids["burst-2"]] and group["reason"] == "you picked it"
        rejects = daemon.request("GET", "/api/cull/plan?what=rejects")
        assert [f["path"] for f in rejects["files"]] == [str(shots["burst-3"])]
        assert rejects["bytes"] == shots["burst-3"].stat().st_size
        # Deciding in a group marks what was decided as seen, not the whole group.
        assert daemon.request("GET", "/api/cull/plan?what=non-keepers")["count"] == 0
    finally:
        daemon.kill()  # SIGKILL: the decisions were written before the replies

    daemon, _, _ = start(tmp_path)
    try:
        wait_until(lambda: daemon.request("GET", "/api/cull")["total"] == 1, timeout=60)
        group = daemon.request("GET", "/api/cull")["groups"][0]
        assert group["decisions"] == {ids["burst-2"]: "pick", ids["burst-3"]: "reject"}
        assert daemon.request("POST", "/api/cull/seen", {"ids": group["members"]})["marked"] == 1
        queue = daemon.request("GET", "/api/cull")
        assert queue["unreviewed"] == 0 and queue["groups"][0]["reviewed"]
        plan = daemon.request("GET", "/api/cull/plan?what=non-keepers")
        assert sorted(f["path"] for f in plan["files"]) == sorted(
            str(shots[n]) for n in ("burst-1", "burst-3"))
        assert plan["bytes"] == sum(shots[n].stat().st_size for n in ("burst-1", "burst-3"))
        before = {n: shots[n].read_bytes() for n in ("burst-1", "burst-3")}

        moved = daemon.request("POST", "/api/files/trash", {"files": [
            {"id": f["id"], "path": f["path"]} for f in plan["files"]]})
        assert sorted(moved["trashed"]) == sorted(f["path"] for f in plan["files"])
        assert not shots["burst-1"].exists() and not shots["burst-3"].exists()
        wait_until(lambda: daemon.request("GET", "/api/cull")["total"] == 0, timeout=30)

        # Undo: both back, byte for byte; a second undo has nothing left to restore.
        back = daemon.request("POST", "/api/files/restore", {"paths": moved["trashed"]})
        assert sorted(back["restored"]) == sorted(moved["trashed"]) and not back["failed"]
        assert {n: shots[n].read_bytes() for n in before} == before
        assert not list((tmp_path / "xdg" / "Trash" / "info").iterdir())
        again = daemon.request("POST", "/api/files/restore", {"paths": moved["trashed"]})
        assert not again["restored"] and "not in the trash" in again["failed"][0]["error"]
        # Content-keyed: the restored photos come back with their decisions.
        group = wait_until(lambda: (q := daemon.request("GET", "/api/cull"))["total"] and
                           q["groups"][0], timeout=30)
        assert group["decisions"][ids["burst-3"]] == "reject"
    finally:
        daemon.kill()


def test_restore_never_overwrites(tmp_path: Path) -> None:
    lib = tmp_path / "library"
    lib.mkdir()
    shots = burst(lib)
    daemon, _, _ = start(tmp_path)
    try:
        # one status document (two calls could read before and after the scan), then the
        # photo as the listing shows it once it is described
        wait_until(lambda: (f := daemon.status()["files"])["pending"] == 0 and
                   f["total"] == 5, timeout=90)
        item = wait_until(lambda: next(
            (i for i in daemon.request("GET", "/api/images?per_page=10")["items"]
             if i["path"] == str(shots["other-a"])), None), timeout=30)
        daemon.request("POST", "/api/files/trash",
                       {"files": [{"id": item["id"], "path": item["path"]}]})
        shots["other-a"].write_bytes(b"a new file took its name")
        result = daemon.request("POST", "/api/files/restore", {"paths": [item["path"]]})
        assert not result["restored"] and "exists again" in result["failed"][0]["error"]
        assert shots["other-a"].read_bytes() == b"a new file took its name"
        assert len(list((tmp_path / "xdg" / "Trash" / "files").iterdir())) == 1
    finally:
        daemon.kill()
