"""Ratings, picks, rejects, colour labels and keywords kept in step with the XMP sidecars
other photo tools read and write (imaging.xmp_sidecar says which properties).

Lightroom, digiKam, darktable and others keep 0-5 stars, where 0 means "not rated" and -1
means "rejected" (the XMP specification's words). Here a rating goes from 0 to 10, so
stars count double; a 0 stays unrated, and a -1 becomes a reject in the cull view.

Both sides change: the person here, and other tools on disk while the daemon runs. The
rule is that the newer one wins, property by property:

- What the sidecar said when the daemon last read it is kept per photo (`xmp-seen`), so a
  re-read (the watcher saw the sidecar change) knows which properties another tool
  changed since. Only those are taken in: a property the other tool left alone never
  reverts what the person did here.
- A changed property is taken in when the sidecar is newer than the person's own last
  change to it here (or nothing was decided here); when the person's change is newer, it
  stands and, with `[ratings] write_xmp`, goes back out. Either way, where both sides had
  a value and they differ, it is counted (`xmp_sidecars.conflicts` in status) and logged.
- A photo seen for the first time without a sidecar (only its embedded XMP) brings its
  values in where nothing was decided here.
- A write (FlagsChanged) touches only its own topic's properties, in the sidecar as it is
  on disk then, and notes what it wrote as seen, so its own change is not taken for
  another tool's.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from anagnorisisd.imaging.xmp_sidecar import Flags, SidecarError, stars, write_flags
from anagnorisisd.store.database import Store, StoreError

log = logging.getLogger(__name__)
XMP_REJECTED = -1
SEEN_KEY, SUBJECTS_KEY = "xmp-seen", "xmp-subjects"
"""User data per content: what its sidecar last said (in XMP's own terms), and the
concept names this daemon wrote there (the only keywords it ever takes out again)."""


def stars_to_rating(stars: float) -> float | None:
    """1-5 stars as 2-10 here; 0 ("not rated") and anything below as None."""
    return min(10.0, stars * 2) if stars >= 1 else None


def said(output: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any]:
    """What the metadata stage's output says in the terms compared here: "rating" in whole
    stars (None: not rated), "decision" ("pick", "reject" or None) and "label". A -1
    rating is a reject, and says nothing about the stars (kept as they were)."""
    raw, pick = output.get("xmp_rating"), output.get("xmp_pick")
    rejected = raw is not None and float(raw) == XMP_REJECTED
    rating: int | None
    if rejected:
        rating = (before or {}).get("rating")
    else:
        rating = round(float(raw)) if raw is not None and float(raw) >= 1 else None
    decision = "reject" if rejected or pick == "reject" else "pick" if pick == "pick" else None
    label = output.get("xmp_label") if isinstance(output.get("xmp_label"), str) else None
    return {"rating": rating, "decision": decision, "label": label}


def decided_of(review: dict[str, Any]) -> tuple[str | None, float | None, str | None,
                                               float | None]:
    """(decision, when it was made here, label, when it was given here) from a photo's
    stored review record (the culling feature's, in the store's user data); a time is None
    for what came from another tool. Decisions made before their time was kept count from
    the first look, the latest they can have been made."""
    return (review.get("decision"), review.get("decided_at", review.get("seen_at")),
            review.get("label"), review.get("labelled_at", review.get("seen_at")))


class SidecarSync:
    """The two directions, for one library."""

    def __init__(self, store: Store, metadata_stage: str | None, write: bool,
                 files_of: Callable[[bytes], list[str]],
                 confirmed: Callable[[bytes], tuple[str, ...]] = lambda _: (),
                 adopt: Callable[[bytes, dict[str, Any]], None] | None = None) -> None:
        self.store = store
        self.adopt = adopt
        """Hands what a sidecar newer than the person's change says to the features that
        keep it (the hub's FlagsAdopted); None where nothing is taken in (a command)."""
        self.metadata_stage = metadata_stage
        self.write_xmp = write
        self.files_of = files_of
        self.confirmed = confirmed
        """The concept names confirmed for a photo (its keywords to hold)."""
        self.written = 0
        self.failed = 0
        self.conflicts = 0
        self.last_error: str | None = None
        self.last_conflict: str | None = None
        self._lock = threading.Lock()

    # -------------------------------------------------------------------- in
    def on_result(self, stage: str, content: bytes, output: dict[str, Any]) -> None:
        """A metadata result: take in what another tool changed in the photo's XMP."""
        if stage != self.metadata_stage:
            return
        try:
            self.take_in(content, output)
        except StoreError as exc:  # the sidecar is still there for the next pass
            log.warning("could not take in a photo's XMP: %s", exc)

    def take_in(self, content: bytes, output: dict[str, Any]) -> None:
        before = self.store.get_user(content, SEEN_KEY)
        now = said(output, before)
        at = output.get("xmp_at")
        write_back: set[str] = set()
        for prop in ("rating", "decision", "label"):
            if before is not None and prop in before and before[prop] == now[prop]:
                continue  # the other tool left it as it was: what is here stands
            if self._agrees(content, prop, now[prop]):
                continue
            ours, ours_at = self._ours(content, prop)
            if ours_at is None or (at is not None and float(at) > ours_at):
                if ours_at is not None:
                    self._conflict(content, prop, ours, now[prop], "the sidecar's is newer")
                self._adopt(content, prop, now[prop])
            elif at is not None:
                self._conflict(content, prop, ours, now[prop], "the one made here is newer")
                write_back.add(prop)
        if before != now:
            with self.store.write() as w:
                w.set_user(content, SEEN_KEY, now)
        if write_back and self.write_xmp:
            self.write(content, frozenset(write_back))

    def _agrees(self, content: bytes, prop: str, theirs: Any) -> bool:
        ours, _ = self._ours(content, prop)
        if prop == "rating":
            return (ours is None) == (theirs is None) and (
                ours is None or stars(float(ours)) == theirs)
        return bool(ours == theirs)

    def _ours(self, content: bytes, prop: str) -> tuple[Any, float | None]:
        """The value here and when the person set it here (None: never set here)."""
        if prop == "rating":
            rating = self.store.get_user(content, "rating")
            history = self.store.rating_history(content)
            return (rating["value"] if rating else None,
                    float(history[-1]["at"]) if history else None)
        decision, decided_at, label, labelled_at = self.decided(content)
        return (decision, decided_at) if prop == "decision" else (label, labelled_at)

    def decided(self, content: bytes) -> tuple[str | None, float | None, str | None,
                                               float | None]:
        return decided_of(self.store.get_user(content, "review") or {})

    def _adopt(self, content: bytes, prop: str, theirs: Any) -> None:
        if self.adopt is None:
            return
        value = (stars_to_rating(theirs) if theirs is not None else None) \
            if prop == "rating" else theirs
        self.adopt(content, {prop: value})

    def _conflict(self, content: bytes, prop: str, ours: Any, theirs: Any, why: str) -> None:
        message = (f"{content.hex()[:12]}: {prop} here {ours!r}, in its sidecar {theirs!r}; "
                   f"{why}")
        log.info("XMP conflict: %s", message)
        with self._lock:
            self.conflicts += 1
            self.last_conflict = message

    # ------------------------------------------------------------------- out
    def on_flags(self, content: bytes, topics: frozenset[str]) -> None:
        """The person changed something here (FlagsChanged): out to the sidecars."""
        if self.write_xmp:
            self.write(content, topics)

    def write(self, content: bytes, topics: frozenset[str]) -> int:
        """Write the topics' properties to the sidecar of every file that is this photo;
        returns how many were written. A sidecar that cannot be written (a read-only
        folder, a full disk) never undoes what is stored: it is counted and said."""
        flags = self.flags(content, topics)
        try:
            self._note_written(content, flags)
        except StoreError as exc:
            log.warning("could not note what goes to a sidecar: %s", exc)
        done = 0
        for path in self.files_of(content):
            try:
                write_flags(path, flags)
            except SidecarError as exc:
                log.warning("could not write an XMP sidecar: %s", exc)
                with self._lock:
                    self.failed += 1
                    self.last_error = str(exc)
                continue
            done += 1
        with self._lock:
            self.written += done
        return done

    def flags(self, content: bytes, topics: frozenset[str]) -> Flags:
        """What the person decided about a content (as stored), for the topics asked."""
        rating = self.store.get_user(content, "rating")
        decision, _, label, _ = self.decided(content)
        confirmed = self.confirmed(content) if "subjects" in topics else ()
        earlier = tuple(self.store.get_user(content, SUBJECTS_KEY) or ())
        held = {n.casefold() for n in confirmed}
        return Flags(float(rating["value"]) if rating is not None else None, decision, label,
                     confirmed, tuple(n for n in earlier if n.casefold() not in held),
                     topics)

    def _note_written(self, content: bytes, flags: Flags) -> None:
        """What this write puts in the sidecar counts as seen (so the re-read its own write
        brings is not taken for another tool's change), and the concept names it holds
        are remembered as this daemon's."""
        before = dict(self.store.get_user(content, SEEN_KEY) or {})
        after = dict(before)
        if "rating" in flags.topics:
            after["rating"] = None if flags.rating is None else stars(flags.rating)
        if "decision" in flags.topics:
            after["decision"] = flags.decision
        if "label" in flags.topics:
            after["label"] = flags.label
        with self.store.write() as w:
            if after != before:
                w.set_user(content, SEEN_KEY, after)
            if "subjects" in flags.topics:
                w.set_user(content, SUBJECTS_KEY, list(flags.subjects) or None)

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {"written": self.written, "failed": self.failed,
                    "last_error": self.last_error, "conflicts": self.conflicts,
                    "last_conflict": self.last_conflict}


def write_everything(sync: SidecarSync, contents: Iterable[bytes],
                     on_progress: Callable[[int], None] | None = None) -> int:
    """Every topic of each content out to its sidecars (`ratings export --xmp`)."""
    done = 0
    for n, content in enumerate(contents, start=1):
        done += sync.write(content, frozenset({"rating", "decision", "label"}))
        if on_progress is not None:
            on_progress(n)
    return done
