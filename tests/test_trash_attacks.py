"""Undo from the trash against a crafted trash: only what the daemon itself trashed comes
back, only as it was, never over a file that took its name, and nothing in a trash folder
(a FIFO, a link to /dev/zero or /etc/passwd, a symlinked or foreign .Trash) can hang the
daemon or move a file it should not."""

from __future__ import annotations

import os
import threading
import time
import tomllib
from pathlib import Path

import pytest

from anagnorisisd.app import trash_can
from tests.helpers import Daemon, free_port, make_photo, wait_until, write_config


@pytest.fixture
def disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder standing for the top of the library's disk, and a home trash beside it."""
    top = tmp_path / "disk"
    (top / "library").mkdir(parents=True)
    monkeypatch.setattr(trash_can, "mount_point", lambda path: top)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home"))
    from send2trash import plat_other  # it reads XDG_DATA_HOME once, at import

    home = os.fsencode(tmp_path / "home")
    monkeypatch.setattr(plat_other, "XDG_DATA_HOME", home)
    monkeypatch.setattr(plat_other, "HOMETRASH_B", os.path.join(home, b"Trash"))
    monkeypatch.setattr(plat_other, "HOMETRASH", os.fsdecode(os.path.join(home, b"Trash")))
    return top


def trashed(photo: Path) -> tuple[trash_can.Trashed, dict]:
    from send2trash import send2trash

    size = photo.stat().st_size
    content = trash_can.content_hash(photo, size)
    send2trash(str(photo))
    entry = trash_can.find_entry(str(photo), size)
    assert entry is not None
    return entry, trash_can.record(str(photo), entry, content, size)


def test_what_was_trashed_comes_back_as_it_was(disk: Path) -> None:
    photo = make_photo(disk / "library" / "a.jpg", 64, 48)
    data = photo.read_bytes()
    entry, kept = trashed(photo)
    trash_can.restore(str(photo), kept)
    assert photo.read_bytes() == data and not entry.file.exists() and not entry.info.exists()


def test_nothing_comes_back_that_this_daemon_did_not_trash(disk: Path) -> None:
    with pytest.raises(trash_can.RestoreError, match="only what it trashed"):
        trash_can.restore(str(disk / "library" / "never.jpg"), None)


@pytest.mark.parametrize("swap", ["fifo", "dev-zero", "passwd", "other-content"])
def test_a_swapped_trash_entry_is_refused_at_once(disk: Path, swap: str) -> None:
    photo = make_photo(disk / "library" / "a.jpg", 64, 48)
    entry, kept = trashed(photo)
    entry.file.unlink()
    if swap == "fifo":
        os.mkfifo(entry.file)
    elif swap == "dev-zero":
        os.symlink("/dev/zero", entry.file)
    elif swap == "passwd":
        os.symlink("/etc/passwd", entry.file)
    else:  # the same size, other bytes
        entry.file.write_bytes(b"x" * int(kept["size"]))
    started = time.monotonic()
    with pytest.raises(trash_can.RestoreError):
        trash_can.restore(str(photo), kept)
    assert time.monotonic() - started < 2
    assert not os.path.lexists(photo)  # nothing placed in the library


def test_crafted_trash_folders_are_never_used(disk: Path, tmp_path: Path) -> None:
    uid = os.getuid()
    photo = disk / "library" / "b.jpg"
    # A symlinked .Trash (another user's, say) and a .Trash-UID that is not the user's.
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / str(uid) / "files").mkdir(parents=True)
    (elsewhere / str(uid) / "info").mkdir()
    os.chmod(elsewhere, 0o1777)
    os.symlink(elsewhere, disk / ".Trash")
    foreign = disk / f".Trash-{uid}"
    (foreign / "files").mkdir(parents=True)
    (foreign / "info").mkdir()
    if uid == 0:
        os.chown(foreign, 12345, 12345)
    trash_dirs = [t for t, _ in trash_can.checked_trash_dirs(str(photo))]
    assert disk / ".Trash" / str(uid) not in trash_dirs
    if uid == 0:
        assert foreign not in trash_dirs
    # A files/ folder that is a symlink is not a trash either.
    os.chown(foreign, uid, uid)
    (foreign / "files").rmdir()
    os.symlink(tmp_path, foreign / "files")
    assert foreign not in [t for t, _ in trash_can.checked_trash_dirs(str(photo))]


def test_trashinfo_fifos_and_links_do_not_hang_the_search(disk: Path) -> None:
    photo = make_photo(disk / "library" / "c.jpg", 64, 48)
    home = trash_can.home_trash()
    (home / "info").mkdir(parents=True)
    (home / "files").mkdir()
    os.mkfifo(home / "info" / "c.jpg.trashinfo")
    os.symlink("/dev/zero", home / "info" / "c 2.jpg.trashinfo")
    started = time.monotonic()
    assert trash_can.find_entry(str(photo), photo.stat().st_size) is None
    assert time.monotonic() - started < 2


def test_the_move_back_never_replaces_a_file_that_took_the_name(tmp_path: Path) -> None:
    """Link-then-unlink: whatever instant a new file appears at the name, exactly one of the
    two ends up there, whole: the new file is never overwritten, the trashed one never lost."""
    for i in range(200):
        source = tmp_path / f"trashed-{i}"
        source.write_bytes(b"old")
        target = tmp_path / f"photo-{i}.jpg"
        created: list[bool] = []

        def create(t: Path = target, created: list[bool] = created) -> None:
            try:
                fd = os.open(t, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            except FileExistsError:
                created.append(False)
                return
            os.write(fd, b"new")
            os.close(fd)
            created.append(True)

        racer = threading.Thread(target=create)
        racer.start()
        try:
            trash_can.place_without_replacing(source, str(target))
            placed = True
        except FileExistsError:
            placed = False
        racer.join()
        assert placed != created[0]
        assert target.read_bytes() in ((b"old",) if placed else (b"new", b""))
        assert source.exists() != placed  # the trashed file is in one place, never lost
    existing = tmp_path / "taken.jpg"
    existing.write_bytes(b"mine")
    source = tmp_path / "trashed"
    source.write_bytes(b"theirs")
    with pytest.raises(FileExistsError):
        trash_can.place_without_replacing(source, str(existing))
    assert existing.read_bytes() == b"mine" and source.read_bytes() == b"theirs"


def test_through_the_daemon_a_crafted_entry_is_refused_and_the_panel_keeps_answering(
        tmp_path: Path) -> None:
    lib = tmp_path / "library"
    photo = make_photo(lib / "d.jpg", 120, 90, seed=2)
    make_photo(lib / "e.jpg", 120, 90, seed=3)
    config = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(lib)]}, "storage": {"data_dir": str(tmp_path / "data")},
        "server": {"port": free_port()}, "pipeline": {"stages": ["hash", "meta", "thumbnail"]}})
    xdg = tmp_path / "xdg"
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"],
                    env={"XDG_DATA_HOME": str(xdg)})
    try:
        wait_until(lambda: daemon.status()["files"]["done"] == 2, timeout=60)
        item = next(i for i in daemon.request("GET", "/api/images")["items"]
                    if i["path"] == str(photo))
        daemon.request("POST", "/api/files/trash",
                       {"files": [{"id": item["id"], "path": item["path"]}]})
        entry = xdg / "Trash" / "files" / "d.jpg"
        entry.unlink()
        os.mkfifo(entry)  # it would hang a reader forever
        started = time.monotonic()
        result = daemon.request("POST", "/api/files/restore", {"paths": [str(photo)]})
        assert time.monotonic() - started < 5
        assert not result["restored"] and "regular file" in result["failed"][0]["error"]
        entry.unlink()
        os.symlink("/etc/passwd", entry)
        result = daemon.request("POST", "/api/files/restore", {"paths": [str(photo)]})
        assert not result["restored"] and not os.path.lexists(photo)
        # a path the daemon never trashed, with an entry crafted for it
        (xdg / "Trash" / "info" / "e2.jpg.trashinfo").write_text(
            f"[Trash Info]\nPath={lib / 'e2.jpg'}\nDeletionDate=2026-01-01T00:00:00\n")
        (xdg / "Trash" / "files" / "e2.jpg").write_bytes(b"planted")
        result = daemon.request("POST", "/api/files/restore", {"paths": [str(lib / "e2.jpg")]})
        assert not result["restored"] and not (lib / "e2.jpg").exists()
        assert daemon.status()["files"]["total"] >= 1
    finally:
        daemon.kill()
