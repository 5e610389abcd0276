"""Reading the library without trusting it.

A library folder is the person's, but what lies in it is not always what its
name says: a FIFO named ``x.jpg`` blocks a reader for ever, a symlink can point
at ``/etc/passwd`` or ``/dev/zero``, a link can loop. Everything that reads a
file or judges a directory entry goes through here, so the rules live in one
place:

- only regular files are opened, and the check is made on the opened
  descriptor (``fstat``), so swapping the file for a FIFO after a check changes
  nothing;
- a symlink counts only when what it really points to is a regular file inside
  a library root; other links, loops and dangling links are *skipped with a
  reason*, never silently;
- symlinked folders are not followed (a loop or an escape could hide behind
  any of them); they are listed with the advice to add their target as a
  library path instead.
"""

from __future__ import annotations

import errno
import fcntl
import io
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass


class UnreadableFile(OSError):
    """A file that will not be read; the message is the reason shown to the person."""


def kind_of(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path: str, max_bytes: int | None = None, buffering: int = -1,
                 setting: str = "max_file_mb") -> io.BufferedReader | io.FileIO:
    """Open a regular file for reading, or raise UnreadableFile saying why not.

    O_NONBLOCK makes opening a FIFO return at once instead of waiting for a writer;
    the type is then judged on the descriptor itself, and blocking is turned back on.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UnreadableFile(f"{kind_of(st.st_mode)}, not a regular file")
        if max_bytes is not None and st.st_size > max_bytes:
            raise UnreadableFile(f"{st.st_size >> 20} MiB, larger than the "
                                 f"{max_bytes >> 20} MiB limit ([limits] {setting})")
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb", buffering=buffering)  # type: ignore[return-value]
    except BaseException:
        os.close(fd)
        raise


def real_roots(roots: Iterable[str]) -> list[str]:
    """The library roots with every symlink resolved: what containment is judged against."""
    return [os.path.realpath(r) for r in roots]


def inside(path: str, roots: Iterable[str]) -> bool:
    """Whether `path` (already resolved) lies in one of `roots` (already resolved)."""
    return any(path == r or path.startswith(r.rstrip(os.sep) + os.sep) for r in roots)


@dataclass(slots=True)
class Verdict:
    """What to do with one directory entry: index it (with its stat), or skip it (why)."""

    path: str
    size: int = 0
    mtime_ns: int = 0
    skip: str | None = None
    sidecar: tuple[int, ...] | None = None
    """Its XMP sidecars' fingerprint (ingest.sidecars), when the scan looked: the walk fills
    it in once the photo's folder is read (a plain field rather than a copy: the scan
    makes 100,000 of these a second)."""

    @property
    def ok(self) -> bool:
        return self.skip is None


def judge(path: str, library_real_roots: list[str],
          entry: os.DirEntry[str] | None = None) -> Verdict | None:
    """Judge a file-like entry whose name says it is an image. None: it does not exist.

    Regular files are indexed; a symlink is indexed as the file it points to when
    that is a regular file inside the library; anything else is skipped with a reason.
    """
    try:
        lst = entry.stat(follow_symlinks=False) if entry is not None else os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return Verdict(path, skip=f"cannot look at it: {exc.strerror or exc}")
    if stat.S_ISREG(lst.st_mode):
        return Verdict(path, lst.st_size, lst.st_mtime_ns)
    if not stat.S_ISLNK(lst.st_mode):
        return Verdict(path, skip=f"{kind_of(lst.st_mode)}, not a regular file")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return Verdict(path, skip="a dangling symlink (its target does not exist)")
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return Verdict(path, skip="a symlink loop")
        return Verdict(path, skip=f"a symlink that cannot be followed: {exc.strerror or exc}")
    if stat.S_ISDIR(st.st_mode):
        return Verdict(path, skip="a symlink to a folder, not followed (add its target as a "
                                  "library path instead)")
    if not inside(os.path.realpath(path), library_real_roots):
        return Verdict(path, skip="a symlink to a file outside the library")
    if not stat.S_ISREG(st.st_mode):
        return Verdict(path, skip=f"a symlink to {kind_of(st.st_mode)}, not a regular file")
    return Verdict(path, st.st_size, st.st_mtime_ns)
