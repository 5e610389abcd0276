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

A write is about some of these (its `topics`: a rating, a decision, a label, keywords)
and changes only those properties, in the sidecar as it is on disk at that moment: a value
another tool wrote there since, for anything else, stays as that tool wrote it. Every
existing sidecar of the photo (``NAME.EXT.xmp`` as darktable and digiKam name it, and
``NAME.xmp`` as Lightroom does) is edited in place with an XML parser (imaging.xmp),
keeping every other property, prefix and comment, and is not rewritten at all when it
already says so; so a cleared value leaves no sidecar still saying it. A photo without a
sidecar gets a new ``NAME.EXT.xmp`` that starts from the photo's own embedded XMP and IPTC
keywords (what other tools would show for it), never from an empty set. Writes are atomic
(a temporary file, then a rename), and a sidecar that is a symlink, a FIFO or bigger than
any real sidecar is refused.
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
    read_flags,
    sequence,
    serialize,
    set_property,
    set_sequence,
    values,
)
from anagnorisisd.ingest import sidecars as ingest_sidecars
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


TOPICS = frozenset({"rating", "decision", "label", "subjects"})
"""What a write can be about; each touches its own properties only (Flags.properties)."""


@dataclass(frozen=True)
class Unreject:
    """xmp:Rating after a reject is taken back: the stars, if the sidecar still says -1
    (the reject); otherwise whatever it says is left alone."""

    stars: str | None


@dataclass(frozen=True)
class Flags:
    """What the person decided about a photo, as other tools should see it, and which of
    it a write is about (`topics`)."""

    rating: float | None = None
    decision: str | None = None
    """"pick", "reject" or None."""
    label: str | None = None
    """One of imaging.xmp.LABELS, or None."""
    subjects: tuple[str, ...] = ()
    """Keywords the sidecar must hold (confirmed concepts)."""
    subjects_dropped: tuple[str, ...] = ()
    """Keywords to take out if there (concepts this daemon wrote that are no longer
    confirmed for this photo)."""
    topics: frozenset[str] = TOPICS
    """What this write is about; properties of other topics are not touched."""

    def properties(self) -> dict[str, Value | Unreject]:
        out: dict[str, Value | Unreject] = {}
        rejected = self.decision == "reject"
        rated = None if self.rating is None else str(stars(self.rating))
        if "rating" in self.topics:
            out[RATING] = "-1" if rejected else rated
        if "decision" in self.topics:
            pick = DIGIKAM_PICK.get(self.decision or "")
            out[PICK_LABEL] = None if pick is None else str(pick)
            if rejected:
                out[RATING] = "-1"
            elif "rating" not in self.topics:
                out[RATING] = Unreject(rated)
        if "label" in self.topics:
            label = self.label if self.label in LIGHTROOM_LABEL else None
            out[LABEL] = LIGHTROOM_LABEL[label] if label else None
            out[COLOR_LABEL] = str(DIGIKAM_LABEL[label]) if label else None
            out[DT_LABELS] = [str(DARKTABLE_LABEL[label])] if label else None
        return out

    def keywords(self) -> Subjects:
        return ((self.subjects, self.subjects_dropped) if "subjects" in self.topics
                else ((), ()))


def sidecar_names(photo: str) -> tuple[Path, Path]:
    """Where a photo's sidecar may be, in the order it is looked for: NAME.EXT.xmp
    (darktable, digiKam), then NAME.xmp (Lightroom)."""
    first, second = ingest_sidecars.sidecar_names(photo)
    return Path(first), Path(second)


def _says(root: etree._Element, name: str, value: Value) -> bool:
    if name in SEQUENCES:
        return sequence(root, name) == (value or [])
    return values(root, name) == ([] if value is None else [value])


def _resolved(root: etree._Element, name: str, value: Value | Unreject) -> Value:
    """The value to write: an Unreject becomes the stars where the sidecar says -1, else
    what the sidecar already says."""
    if not isinstance(value, Unreject):
        return value
    now = values(root, name)
    if now and now[0] == "-1":
        return value.stars
    return now[0] if now else None


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


def with_properties(xmp: str, asked: dict[str, Value | Unreject],
                    subjects: Subjects = ((), ())) -> str:
    """The packet with each property set as asked (None: removed) and dc:subject edited
    (edited_subjects), everything else as it was; the very same text when it already
    says so."""
    try:
        root = parse(xmp.encode("utf-8"))
        wanted = {name: _resolved(root, name, value) for name, value in asked.items()}
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
    """Say the flags of the write's topics in every sidecar the photo has, each as it is on
    disk now; a photo without one gets one (starting from its embedded XMP) only when there
    is something to say. Returns the first sidecar written. Raises SidecarError with the
    reason when a sidecar cannot be read or written."""
    return write_properties(photo, flags.properties(), flags.keywords())


def write_properties(photo: str, wanted: dict[str, Value | Unreject],
                     subjects: Subjects = ((), ())) -> Path:
    """write_flags for any properties (a position: imaging.xmp_position)."""
    existing = [n for n in sidecar_names(photo) if os.path.lexists(n)]
    for name in existing:
        _edit(name, photo, wanted, subjects)
    if existing:
        return existing[0]
    target = sidecar_names(photo)[0]
    if any(v is not None and not isinstance(v, Unreject) for v in wanted.values()) \
            or subjects[0]:
        _edit(target, photo, wanted, subjects, start=embedded_start(photo))
    return target


def write_rating(photo: str, rating: float | None) -> Path:
    """write_flags for a rating alone."""
    return write_flags(photo, Flags(rating, topics=frozenset({"rating"})))


def embedded_start(photo: str) -> str:
    """What a new sidecar starts from: the photo's own embedded XMP packet (its rating,
    label and keywords, as other tools show them), with its IPTC keywords added to
    dc:subject; an empty packet for a photo with neither, or one that cannot be read."""
    from anagnorisisd.imaging.embedded import embedded_metadata  # Pillow, on use only

    packet, iptc = embedded_metadata(photo, MAX_SIDECAR_BYTES)
    start = EMPTY_SIDECAR
    if packet:
        try:
            text = packet.decode("utf-8")
            with_properties(text, {})  # parses: it is XMP this editor can hold
            start = text
        except (UnicodeDecodeError, SidecarError):
            start = EMPTY_SIDECAR
    if iptc:
        start = with_properties(start, {}, (tuple(iptc), ()))
    return start


def _edit(target: Path, photo: str, wanted: dict[str, Value | Unreject],
          subjects: Subjects = ((), ()), start: str = EMPTY_SIDECAR) -> None:
    if target.is_symlink():  # it may lead anywhere, out of the library too
        raise SidecarError(f"{target}: a symlink, not followed")
    try:
        with open_regular(str(target), MAX_SIDECAR_BYTES) as f:
            current = f.read().decode("utf-8")
    except FileNotFoundError:
        current = ""
    except (UnreadableFile, UnicodeDecodeError, OSError) as exc:
        raise SidecarError(f"{target}: {exc}") from None
    try:
        updated = with_properties(current if current.strip() else start, wanted, subjects)
    except SidecarError as exc:
        raise SidecarError(f"{target}: {exc}") from None
    if updated != current:
        replace_atomically(target, updated, like=photo)


def read_sidecars(photo: str) -> tuple[list[bytes], dict[str, object], float | None]:
    """The photo's sidecars' bytes (NAME.EXT.xmp, then NAME.xmp), the rating, pick and
    label they say (the first that says any wins: xmp_rating, xmp_pick, xmp_label, each
    None when unsaid), and the modification time of that sidecar (None: no sidecar says
    anything). Unreadable sidecars are passed over."""
    packets: list[tuple[bytes, float]] = []
    for candidate in sidecar_names(photo):
        try:
            with open_regular(str(candidate), MAX_SIDECAR_BYTES) as f:
                packets.append((f.read(), os.fstat(f.fileno()).st_mtime))
        except (OSError, UnreadableFile):
            continue
    for packet, mtime in packets:
        flags = read_flags(packet)
        if any(value is not None for value in flags.values()):
            return [p for p, _ in packets], flags, mtime
    return ([p for p, _ in packets], dict.fromkeys(("xmp_rating", "xmp_pick", "xmp_label")),
            max((m for _, m in packets), default=None))


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
