"""Which files are a photo's XMP sidecars, and whether another tool changed them.

darktable and digiKam write ``NAME.EXT.xmp`` beside the photo, Lightroom ``NAME.xmp``.
A sidecar holds what the person decided in those tools (rating, labels, keywords), so it
is part of what the daemon watches: its size and modification time are kept with the
photo's file record (`fingerprint`), and when they change the photo's sidecar readers run
again (store.writer.Writer.seen). Looking costs two lstat calls a photo, and none in a
scan, which reads the sidecars' stats from the folder listing it makes anyway.
"""

from __future__ import annotations

import os
import stat

SUFFIX = ".xmp"


def sidecar_names(photo: str) -> tuple[str, str]:
    """Where a photo's sidecars may be, in the order they are read: NAME.EXT.xmp
    (darktable, digiKam), then NAME.xmp (Lightroom)."""
    return photo + SUFFIX, os.path.splitext(photo)[0] + SUFFIX


def is_sidecar(path: str) -> bool:
    return path.lower().endswith(SUFFIX)


def fingerprint_of(names: tuple[str, str], stats: dict[str, tuple[int, int]]
                   ) -> tuple[int, ...]:
    """(size, mtime_ns) of each sidecar name in `stats`, (0, 0) for one that is absent;
    () when the photo has none."""
    found = [stats.get(name) for name in names]
    if not any(found):
        return ()
    return tuple(v for pair in found for v in (pair or (0, 0)))


def fingerprint(photo: str) -> tuple[int, ...]:
    """The photo's sidecars as they are on disk now (regular files only)."""
    stats: dict[str, tuple[int, int]] = {}
    for name in sidecar_names(photo):
        try:
            st = os.lstat(name)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            stats[name] = (st.st_size, st.st_mtime_ns)
    return fingerprint_of(sidecar_names(photo), stats)


def photos_of(sidecar: str, photos_named: list[str]) -> list[str]:
    """The photos a sidecar may belong to: NAME.EXT for NAME.EXT.xmp, and every photo of
    `photos_named` (the known files beginning NAME.) whose name without its extension is
    NAME, for Lightroom's NAME.xmp."""
    base = sidecar[: -len(SUFFIX)]
    out = [base] if os.path.splitext(base)[1] else []
    out += [p for p in photos_named if os.path.splitext(p)[0] == base and p not in out]
    return out
