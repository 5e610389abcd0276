"""Ratings, picks, rejects and colour labels written out where other photo tools look
for them: an XMP sidecar beside the photo.

Lightroom, digiKam, darktable and others read these from an XMP sidecar next to the
photo, so what the person decides here follows them to those tools. Only sidecars are
written, never the original file: a photo's bytes are its identity here, and nobody wants
their originals rewritten by a search tool. What is written (Flags.properties):

- xmp:Rating: the rating halved into stars (7 -> 4), at least one, since 0 stars means
  "not rated" in XMP; a reject is -1, as Lightroom, Bridge and darktable read it, and the
  stars come back when the reject is cleared;
- digiKam:PickLabel: 3 for a pick, 1 for a reject (digiKam's "accepted" and "rejected");
- a colour label three ways: xmp:Label ("Red", Lightroom and Bridge), digiKam:ColorLabel
  (a number) and darktable:colorlabels (a sequence of numbers);
- the concepts the person confirmed, added to dc:subject (what digiKam, Lightroom and
  darktable all read as keywords), and to lr:hierarchicalSubject and digiKam:TagsList
  where the sidecar has them; every keyword another tool wrote is kept, and only a
  concept's own name is ever taken out again (Flags.subjects_dropped).

An existing sidecar (``NAME.EXT.xmp`` as darktable and digiKam name it, or ``NAME.xmp``
as Lightroom does) is edited in place with an XML parser (imaging.xmp), changing only
these properties and keeping every other property, prefix and comment; it is not
rewritten at all when they already say so. A new one is ``NAME.EXT.xmp``. A cleared
value is removed from every sidecar of the photo, so no tool (this one included, on a
later import) still sees it. Writes are atomic (a temporary file, then a rename), and a
sidecar that is a symlink, a FIFO or bigger than any real sidecar is refused.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from anagnorisisd.imaging.xmp import (
    COLOR_LABEL,
    DARKTABLE_LABEL,
    DIGIKAM_LABEL,
    DIGIKAM_PICK,
    DT_LABELS,
    HIERARCHICAL,
    LABEL,
    LIGHTROOM_LABEL,
    PICK_LABEL,
    RATING,
    RDF_BAG,
    RDF_SEQ,
    SUBJECT,
    TAGS_LIST,
    XMP_NS,
    XmpError,
    parse,
    sequence,
    serialize,
    set_property,
    set_sequence,
    values,
)
from anagnorisisd.ingest.safe_io import UnreadableFile, open_regular

MAX_SIDECAR_BYTES = 4 << 20
EMPTY_SIDECAR = f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:xmp="{XMP_NS}"/>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
"""
SEQUENCES = (DT_LABELS,)
"""Properties whose value is an rdf:Seq, not a text."""
Value = str | list[str] | None


class SidecarError(OSError):
    """A sidecar that could not be read or written, with the reason in one line."""


def stars(rating: float) -> int:
    """0-10 here to 1-5 stars there: halves rounded up (a 9 is 5 stars, a 3 is 2), and never
    0, which XMP reads as "not rated"."""
    return max(1, min(5, int(rating / 2 + 0.5)))


@dataclass(frozen=True)
class Flags:
    """What the person decided about a photo, as other tools should see it."""

    rating: float | None = None
    decision: str | None = None
    """"pick", "reject" or None."""
    label: str | None = None
    """One of imaging.xmp.LABELS, or None."""
    subjects: tuple[str, ...] = ()
    """Keywords the sidecar must hold (confirmed concepts)."""
    subjects_dropped: tuple[str, ...] = ()
    """Keywords to take out if there (concepts no longer confirmed for this photo that
    no other tool wrote)."""

    def properties(self) -> dict[str, Value]:
        rating = ("-1" if self.decision == "reject" else
                  None if self.rating is None else str(stars(self.rating)))
        pick = DIGIKAM_PICK.get(self.decision or "")
        label = self.label if self.label in LIGHTROOM_LABEL else None
        return {RATING: rating, PICK_LABEL: None if pick is None else str(pick),
                LABEL: LIGHTROOM_LABEL[label] if label else None,
                COLOR_LABEL: str(DIGIKAM_LABEL[label]) if label else None,
                DT_LABELS: [str(DARKTABLE_LABEL[label])] if label else None}


def sidecar_names(photo: str) -> tuple[Path, Path]:
    """Where a photo's sidecar may be, in the order it is looked for: NAME.EXT.xmp
    (darktable, digiKam), then NAME.xmp (Lightroom)."""
    here = Path(photo)
    return here.with_name(here.name + ".xmp"), here.with_suffix(".xmp")


def sidecar_for(photo: str) -> Path:
    """The sidecar other tools already made, if any, else the darktable/digiKam name."""
    names = sidecar_names(photo)
    return next((name for name in names if os.path.lexists(name)), names[0])


def _says(root: etree._Element, name: str, value: Value) -> bool:
    if name in SEQUENCES:
        return sequence(root, name) == (value or [])
    return values(root, name) == ([] if value is None else [value])


KEYWORD_LISTS = ((SUBJECT, RDF_BAG), (HIERARCHICAL, RDF_BAG), (TAGS_LIST, RDF_SEQ))
"""Where keywords are written: dc:subject always; Lightroom's and digiKam's own lists
when the sidecar has them (digiKam reads its TagsList before dc:subject, so a keyword
only in dc:subject would not show there)."""
Subjects = tuple[tuple[str, ...], tuple[str, ...]]
"""(keywords to hold, keywords to take out if there)."""


def edited_subjects(current: list[str], subjects: Subjects) -> list[str]:
    """dc:subject with the wanted keywords in and the dropped ones out, in its order;
    every other keyword kept."""
    add, drop = subjects
    dropped = {d.casefold() for d in drop}
    kept = [s for s in current if s.casefold() not in dropped]
    held = {s.casefold() for s in kept}
    return kept + [a for a in dict.fromkeys(add) if a.casefold() not in held]


def with_properties(xmp: str, wanted: dict[str, Value],
                    subjects: Subjects = ((), ())) -> str:
    """The packet with each property set as wanted (None: removed) and dc:subject edited
    (edited_subjects), everything else as it was; the very same text when it already
    says so."""
    try:
        root = parse(xmp.encode("utf-8"))
        keywords = {name: (current, edited_subjects(current, subjects), container)
                    for name, container in KEYWORD_LISTS
                    if name == SUBJECT or next(root.iter(name), None) is not None
                    for current in [sequence(root, name)]}
        if all(_says(root, name, value) for name, value in wanted.items()) and \
                all(old == new for old, new, _ in keywords.values()):
            return xmp  # the file is left exactly as the other tool wrote it
        for name, value in wanted.items():
            if name in SEQUENCES:
                set_sequence(root, name, value if isinstance(value, list) else None)
            else:
                set_property(root, name, value if isinstance(value, str) else None)
        for name, (old, new, container) in keywords.items():
            if old != new:
                set_sequence(root, name, new, container)
    except XmpError as exc:
        raise SidecarError(str(exc)) from None
    return serialize(root, declaration=xmp.lstrip("\ufeff").startswith("<?xml"))


def with_rating(xmp: str, value: int | None) -> str:
    """The packet with xmp:Rating set to `value` stars (or removed), nothing else changed."""
    return with_properties(xmp, {RATING: None if value is None else str(value)})


def write_flags(photo: str, flags: Flags) -> Path:
    """Say the flags in the photo's sidecar; what is None is removed from every sidecar the
    photo has, and no sidecar is made for nothing. Returns the sidecar written. Raises
    SidecarError with the reason when a sidecar cannot be read or written."""
    wanted = flags.properties()
    existing = [n for n in sidecar_names(photo) if os.path.lexists(n)]
    target = sidecar_for(photo)
    cleared: dict[str, Value] = dict.fromkeys(wanted)
    for name in existing:
        if name != target:
            _edit(name, photo, cleared, ((), flags.subjects_dropped))
    if any(value is not None for value in wanted.values()) or target in existing or \
            flags.subjects:
        _edit(target, photo, wanted, (flags.subjects, flags.subjects_dropped))
    return target


def write_rating(photo: str, rating: float | None) -> Path:
    """write_flags for a rating alone (no decision, no label)."""
    return write_flags(photo, Flags(rating))


def _edit(target: Path, photo: str, wanted: dict[str, Value],
          subjects: Subjects = ((), ())) -> None:
    if target.is_symlink():  # it may lead anywhere, out of the library too
        raise SidecarError(f"{target}: a symlink, not followed")
    try:
        with open_regular(str(target), MAX_SIDECAR_BYTES) as f:
            current = f.read().decode("utf-8")
    except FileNotFoundError:
        if all(value is None for value in wanted.values()) and not subjects[0]:
            return  # nothing to clear
        current = ""
    except (UnreadableFile, UnicodeDecodeError, OSError) as exc:
        raise SidecarError(f"{target}: {exc}") from None
    try:
        updated = with_properties(current if current.strip() else EMPTY_SIDECAR, wanted,
                                  subjects)
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
