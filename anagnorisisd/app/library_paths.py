"""Which folders may be a library, and whether the store's disk has room to open it.

Kept apart from the library service: these are checks on what a person typed or on
the disk, answered the same whoever asks (the API, the config, `serve` at start).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from anagnorisisd.ingest.scanner import normalise_root

# Folders that hold the system, not photos: a library there would index (and let the panel
# trash) files that are not the person's. Their subfolders are refused too.
SYSTEM_TREES = ("/proc", "/sys", "/dev", "/etc", "/boot", "/run", "/bin", "/sbin", "/lib",
                "/lib32", "/lib64", "/libx32", "/usr")
SYSTEM_FOLDERS = ("/", "/var")
MAX_ROOTS = 64


class LibraryPathError(ValueError):
    """A library path that cannot be used, phrased for the person who typed it."""


def system_folder(real: str) -> bool:
    return real in SYSTEM_FOLDERS or any(real == t or real.startswith(t + os.sep)
                                         for t in SYSTEM_TREES)


MIN_ROOM_TO_OPEN = 4 << 20
"""Free bytes below which `serve` opens the store read-only: LMDB writes its lock file and
new pages through memory maps, and a map write the disk cannot back kills the process."""


def disk_has_no_room(data_dir: Path) -> bool:
    """Whether the disk holding an existing store has no room left to open it for writing."""
    if not (Path(data_dir) / "store.lmdb" / "data.mdb").exists():
        return False  # nothing to serve read-only: opening says what is wrong
    try:
        st = os.statvfs(data_dir)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < MIN_ROOM_TO_OPEN


def validate_library_paths(paths: Any, require_absolute: bool = False,
                           data_dir: str | None = None) -> list[str]:
    """Each path must be an existing folder the daemon can read, not a system folder, not
    inside the data directory; from the API, absolute (or ~/...): a relative path would be
    relative to wherever the daemon happened to start."""
    if not isinstance(paths, list) or not all(isinstance(p, str) and p for p in paths):
        raise LibraryPathError("paths must be a list of non-empty strings")
    if len(paths) > MAX_ROOTS:
        raise LibraryPathError(f"at most {MAX_ROOTS} library paths")
    out: list[str] = []
    for raw in paths:
        if "\x00" in raw:
            raise LibraryPathError("a path cannot contain a NUL character")
        if require_absolute and not (raw.startswith("/") or raw.startswith("~")):
            raise LibraryPathError(f"{raw}: give an absolute path, like /home/me/Pictures")
        root = normalise_root(raw)
        if not os.path.exists(root):
            raise LibraryPathError(f"{raw}: no such directory")
        if not os.path.isdir(root):
            raise LibraryPathError(f"{raw}: not a directory")
        if not os.access(root, os.R_OK | os.X_OK):
            raise LibraryPathError(f"{raw}: not readable")
        real = os.path.realpath(root)
        if system_folder(real):
            raise LibraryPathError(f"{raw}: a system folder ({real}), not a photo library")
        if os.path.islink(root.rstrip(os.sep) or os.sep):
            raise LibraryPathError(f"{raw}: a symlink (to {real}); give the folder itself, so "
                                   "that nothing can swap where it leads")
        if data_dir and (real == data_dir or real.startswith(data_dir.rstrip(os.sep) + os.sep)):
            raise LibraryPathError(f"{raw}: inside the daemon's own data directory")
        if data_dir and data_dir.startswith(real.rstrip(os.sep) + os.sep):
            raise LibraryPathError(f"{raw}: holds the daemon's own data directory ({data_dir}),"
                                   " whose thumbnails and models would be indexed as photos")
        if root not in out:
            out.append(root)
    return out
