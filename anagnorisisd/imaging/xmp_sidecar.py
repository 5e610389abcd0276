"""Ratings written out where other photo tools look for them: xmp:Rating in a sidecar.

Lightroom, digiKam, darktable and others read a photo's rating from an XMP sidecar
next to it, so a rating made here can follow the person to those tools. Only sidecars
are written, never the original file: a photo's bytes are its identity here, and
nobody wants their originals rewritten by a search tool.

An existing sidecar (``NAME.EXT.xmp`` as darktable and digiKam name it, or
``NAME.xmp`` as Lightroom does) is edited in place with an XML parser (imaging.xmp),
changing only the rating and keeping every other property, prefix and comment. A new
one is ``NAME.EXT.xmp``. Stars are the rating halved and rounded (7 -> 4 stars), and at
least one: in XMP 0 stars means "not rated", which a rating of 0 here is not. A cleared
rating is removed from every sidecar of the photo, so no tool (this one included, on a
later import) still sees it. Writes are atomic (a temporary file, then a rename), and a
sidecar that is a symlink, a FIFO or bigger than any real sidecar is refused.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from anagnorisisd.imaging.xmp import XMP_NS, XmpError, parse, ratings, serialize, set_rating
from anagnorisisd.ingest.safe_io import UnreadableFile, open_regular

MAX_SIDECAR_BYTES = 4 << 20
NEW_SIDECAR = """<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="{ns}"
    xmp:Rating="{stars}"/>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""


class SidecarError(OSError):
    """A sidecar that could not be read or written, with the reason in one line."""


def stars(rating: float) -> int:
    """0-10 here to 1-5 stars there: halves rounded up (a 9 is 5 stars, a 3 is 2), and never
    0, which XMP reads as "not rated"."""
    return max(1, min(5, int(rating / 2 + 0.5)))


def sidecar_names(photo: str) -> tuple[Path, Path]:
    """Where a photo's sidecar may be, in the order it is looked for: NAME.EXT.xmp
    (darktable, digiKam), then NAME.xmp (Lightroom)."""
    here = Path(photo)
    return here.with_name(here.name + ".xmp"), here.with_suffix(".xmp")


def sidecar_for(photo: str) -> Path:
    """The sidecar other tools already made, if any, else the darktable/digiKam name."""
    names = sidecar_names(photo)
    return next((name for name in names if os.path.lexists(name)), names[0])


def with_rating(xmp: str, value: int | None) -> str:
    """The packet with xmp:Rating set to `value` (or removed), everything else as it was."""
    try:
        root = parse(xmp.encode("utf-8"))
        if ratings(root) == ([] if value is None else [str(value)]):
            return xmp  # already so: the file is left exactly as the other tool wrote it
        set_rating(root, value)
    except XmpError as exc:
        raise SidecarError(str(exc)) from None
    return serialize(root, declaration=xmp.lstrip("\ufeff").startswith("<?xml"))


def write_rating(photo: str, rating: float | None) -> Path:
    """Set the rating in the photo's sidecar, or (for None) remove it from every sidecar the
    photo has; returns the sidecar written. Raises SidecarError with the reason when a
    sidecar cannot be read or written."""
    if rating is None:
        names = [n for n in sidecar_names(photo) if os.path.lexists(n)]
        for name in names:
            _edit(name, photo, None)
        return names[0] if names else sidecar_for(photo)
    target = sidecar_for(photo)
    _edit(target, photo, stars(rating))
    return target


def _edit(target: Path, photo: str, value: int | None) -> None:
    if target.is_symlink():  # it may lead anywhere, out of the library too
        raise SidecarError(f"{target}: a symlink, not followed")
    try:
        with open_regular(str(target), MAX_SIDECAR_BYTES) as f:
            current = f.read().decode("utf-8")
    except FileNotFoundError:
        if value is None:
            return  # nothing to clear
        current = ""
    except (UnreadableFile, UnicodeDecodeError, OSError) as exc:
        raise SidecarError(f"{target}: {exc}") from None
    try:
        updated = (with_rating(current, value) if current.strip()
                   else NEW_SIDECAR.format(ns=XMP_NS, stars=value))
    except SidecarError as exc:
        raise SidecarError(f"{target}: {exc}") from None
    if updated != current:
        replace_atomically(target, updated, like=photo)


TEMP_MARK = ".anagnorisisd-"
"""In the name of a sidecar being written; a process killed mid-write leaves one behind,
which the next write of that sidecar removes (and nobody else's file has this name)."""


def remove_leftovers(target: Path) -> int:
    """Delete temporary files a killed write of this sidecar left beside it."""
    prefix = f".{target.name}{TEMP_MARK}"
    removed = 0
    try:
        with os.scandir(target.parent) as entries:
            stale = [e.path for e in entries if e.name.startswith(prefix)
                     and e.is_file(follow_symlinks=False)]
    except OSError:
        return 0
    for path in stale:
        with contextlib.suppress(OSError):
            os.unlink(path)
            removed += 1
    return removed


def replace_atomically(target: Path, text: str, like: str) -> None:
    """Write beside the target, then rename over it: a crash leaves the old sidecar or the
    new one, never half of one. The permissions are the photo's, less any execute bit."""
    remove_leftovers(target)
    fd, tmp = -1, ""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}{TEMP_MARK}", dir=target.parent)
        os.fchmod(fd, os.stat(like).st_mode & 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            fd = -1
            out.write(text)
        os.replace(tmp, target)
        tmp = ""
    except OSError as exc:
        raise SidecarError(f"{target}: {exc.strerror or exc}") from None
    finally:
        if fd >= 0:
            os.close(fd)
        if tmp:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
