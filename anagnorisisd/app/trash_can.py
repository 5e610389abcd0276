"""Trash and its undo: only what this daemon trashed comes back, and only as it was.

send2trash puts files in the desktop's trash as the freedesktop.org Trash specification
lays it out (files/NAME plus info/NAME.trashinfo recording the original path), but it has
no way back, and a trash folder on the library's own disk is anybody's to craft: a
symlinked ``.Trash``, another user's ``.Trash-UID``, an entry that is a FIFO, a link to
/dev/zero or to a file outside the library. So:

- right after a trash, its entry is found under the specification's checks (a ``.Trash``
  is a real folder with the sticky bit, a ``.Trash-UID`` is the user's own, neither they
  nor their ``files`` and ``info`` folders are symlinks, ``.trashinfo`` files are small
  regular files) and recorded in the store with the original path, the entry and the
  content's hash;
- a restore puts back only a recorded entry, after the same checks, if the entry is still
  a regular file with the recorded size and content;
- the move back never replaces anything: the file is linked at its old path (which fails
  if the name is taken, atomically) and only then removed from the trash, so a file that
  takes the name at any instant before is never overwritten.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import blake3

from anagnorisisd.ingest.safe_io import UnreadableFile, open_regular

MAX_TRASHINFO_BYTES = 64 << 10
RECORD_PREFIX = "trash:"


class RestoreError(Exception):
    """One line: why this file could not be put back."""


@dataclass(frozen=True)
class Trashed:
    info: Path
    file: Path


def home_trash() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "Trash"


def mount_point(path: str) -> Path:
    current = Path(os.path.abspath(path)).parent
    while not os.path.ismount(current) and current != current.parent:
        current = current.parent
    return current


def record_name(original: str) -> str:
    """The store setting that records a trash of `original` (any bytes of a file name)."""
    return RECORD_PREFIX + os.fsencode(original).hex()


def _real_dir(path: Path) -> os.stat_result:
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise RestoreError(f"{path} is not a real folder (a symlink or a file)")
    return st


def checked_trash_dirs(original: str) -> list[tuple[Path, Path]]:
    """(trash folder, folder its Path= lines are relative to) that pass the specification's
    checks for `original`'s disk; a folder that fails them is left out, never used."""
    top, uid = mount_point(original), os.getuid()
    found: list[tuple[Path, Path]] = []
    candidates = [(home_trash(), home_trash().parent, None),
                  (top / ".Trash" / str(uid), top, top / ".Trash"),
                  (top / f".Trash-{uid}", top, None)]
    for trash, relative_to, shared in candidates:
        try:
            if shared is not None:  # $topdir/.Trash: a real folder with the sticky bit
                st = _real_dir(shared)
                if not st.st_mode & stat.S_ISVTX:
                    continue
            st = _real_dir(trash)
            if st.st_uid != uid:
                continue  # another user's trash
            _real_dir(trash / "files")
            _real_dir(trash / "info")
        except (OSError, RestoreError):
            continue
        found.append((trash, relative_to))
    return found


def recorded_path(info: Path, relative_to: Path) -> str | None:
    """The original path a .trashinfo names, read as a small regular file only."""
    try:
        with open_regular(str(info), MAX_TRASHINFO_BYTES) as f:
            text = f.read(MAX_TRASHINFO_BYTES).decode("utf-8", "surrogateescape")
    except (OSError, UnreadableFile):
        return None
    for line in text.splitlines():
        if line.startswith("Path="):
            recorded = os.fsdecode(urllib.parse.unquote_to_bytes(line[5:].strip()))
            return os.path.normpath(os.path.join(relative_to, recorded))
    return None


def find_entry(original: str, size: int) -> Trashed | None:
    """Where a file just trashed went: an entry named after it, whose .trashinfo names its
    original path and whose file is a regular file of its size; the newest such."""
    name = os.path.basename(original)
    stem = os.path.splitext(name)[0]
    best: tuple[float, Trashed] | None = None
    for trash, relative_to in checked_trash_dirs(original):
        try:
            with os.scandir(trash / "info") as entries:
                names = [e.name for e in entries if e.name.startswith(stem)
                         and e.name.endswith(".trashinfo")]
        except OSError:
            continue
        for info_name in names:
            info = trash / "info" / info_name
            if recorded_path(info, relative_to) != os.path.normpath(original):
                continue
            file = trash / "files" / info_name[: -len(".trashinfo")]
            try:
                st = os.lstat(file)
                when = os.lstat(info).st_mtime
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_size == size and (
                    best is None or when > best[0]):
                best = (when, Trashed(info, file))
    return best[1] if best else None


def record(original: str, entry: Trashed, content: bytes, size: int) -> dict[str, Any]:
    """What the store keeps of one trash (setting `record_name(original)`)."""
    return {"file": os.fsencode(str(entry.file)).hex(), "info": os.fsencode(
        str(entry.info)).hex(), "hash": content.hex(), "size": size}


def content_hash(path: Path, size: int) -> bytes:
    hasher = blake3.blake3()
    with open_regular(str(path), size) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            hasher.update(block)
    return hasher.digest()


def restore(original: str, kept: dict[str, Any] | None) -> None:
    """Move the recorded trash entry back to `original`; RestoreError says why not."""
    if not kept:
        raise RestoreError(f"{original} is not in the trash as this daemon put it there "
                           "(only what it trashed is put back)")
    entry = Trashed(Path(os.fsdecode(bytes.fromhex(kept["info"]))),
                    Path(os.fsdecode(bytes.fromhex(kept["file"]))))
    trash = entry.file.parent.parent
    if trash not in [t for t, _ in checked_trash_dirs(original)]:
        raise RestoreError(f"{original}: its trash folder {trash} is not safe to use "
                           "(a symlink, not the user's, or not sticky)")
    try:
        st = os.lstat(entry.file)
    except FileNotFoundError:
        raise RestoreError(f"{original} is not in the trash any more") from None
    if not stat.S_ISREG(st.st_mode):
        raise RestoreError(f"{original}: the trash entry is no longer a regular file")
    if st.st_size != int(kept["size"]):
        raise RestoreError(f"{original}: the trash entry has changed since it was trashed")
    try:
        if content_hash(entry.file, st.st_size).hex() != kept["hash"]:
            raise RestoreError(f"{original}: the trash entry is not the file that was trashed")
    except (OSError, UnreadableFile) as exc:
        raise RestoreError(f"{original}: cannot read the trash entry: {exc}") from None
    if os.path.lexists(original):
        raise RestoreError(f"{original} exists again; the trashed copy stays in the trash")
    try:
        os.makedirs(os.path.dirname(original), exist_ok=True)
        place_without_replacing(entry.file, original)
    except FileExistsError:
        raise RestoreError(f"{original} exists again; the trashed copy stays in the trash"
                           ) from None
    except OSError as exc:
        raise RestoreError(f"{original}: {exc.strerror or exc}") from None
    with contextlib.suppress(OSError):
        entry.info.unlink()


def place_without_replacing(source: Path, target: str) -> None:
    """Move `source` to `target`, failing with FileExistsError if `target` exists at any
    moment: a hard link is created only where no name is (atomic), then the source goes.
    Across disks, a copy is made beside the target first and linked into place the same
    way."""
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError as exc:
        if exc.errno != errno.EXDEV:  # another disk; anything else (EEXIST too) is final
            raise
        folder = os.path.dirname(target)
        fd, temp = tempfile.mkstemp(prefix=".restoring-", dir=folder)
        try:
            with os.fdopen(fd, "wb") as out, open_regular(str(source)) as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            st = os.stat(source)
            os.utime(temp, ns=(st.st_atime_ns, st.st_mtime_ns))
            os.link(temp, target)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temp)
    os.unlink(source)
