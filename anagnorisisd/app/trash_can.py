"""Undo for the trash: put a trashed file back where it was.

send2trash puts files in the desktop's trash as the freedesktop.org Trash
specification lays it out (files/NAME plus info/NAME.trashinfo recording the
original path), but it has no way back. Restoring is the reverse, done the
way file managers do it: find the newest trash entry recorded for that
original path, move the file back, remove its .trashinfo. Nothing is ever
overwritten: a path that is taken again stays as it is, and says so.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
from dataclasses import dataclass
from pathlib import Path


class RestoreError(Exception):
    """One line: why this file could not be put back."""


@dataclass(frozen=True)
class Trashed:
    info: Path
    file: Path
    deleted_at: float


def home_trash() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "Trash"


def mount_point(path: str) -> Path:
    current = Path(os.path.abspath(path)).parent
    while not os.path.ismount(current) and current != current.parent:
        current = current.parent
    return current


def trash_dirs(path: str) -> list[tuple[Path, Path]]:
    """(trash folder, folder its relative paths are relative to), as the spec allows."""
    top, uid = mount_point(path), os.getuid()
    return [(home_trash(), home_trash().parent), (top / ".Trash" / str(uid), top),
            (top / f".Trash-{uid}", top)]


def recorded_path(info: Path, relative_to: Path) -> str | None:
    try:
        text = info.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("Path="):
            recorded = os.fsdecode(urllib.parse.unquote_to_bytes(line[5:].strip()))
            return os.path.normpath(os.path.join(relative_to, recorded))
    return None


def find_trashed(originals: list[str]) -> dict[str, Trashed]:
    """The newest trash entry of each original path (one pass over each trash folder)."""
    wanted = set(originals)
    found: dict[str, Trashed] = {}
    seen_dirs: set[Path] = set()
    for original in originals:
        for trash, relative_to in trash_dirs(original):
            if trash in seen_dirs or not (trash / "info").is_dir():
                continue
            seen_dirs.add(trash)
            for info in (trash / "info").glob("*.trashinfo"):
                path = recorded_path(info, relative_to)
                if path not in wanted:
                    continue
                entry = Trashed(info, trash / "files" / info.name[: -len(".trashinfo")],
                                info.stat().st_mtime)
                if path not in found or entry.deleted_at > found[path].deleted_at:
                    found[path] = entry
    return found


def restore(original: str, entry: Trashed | None) -> None:
    """Move the trashed file back to `original`; RestoreError says why not."""
    if entry is None or not os.path.lexists(entry.file):
        raise RestoreError(f"{original} is not in the trash any more")
    if os.path.lexists(original):
        raise RestoreError(f"{original} exists again; the trashed copy stays in the trash")
    try:
        os.makedirs(os.path.dirname(original), exist_ok=True)
        shutil.move(entry.file, original)
    except OSError as exc:
        raise RestoreError(f"{original}: {exc.strerror or exc}") from None
    entry.info.unlink(missing_ok=True)
