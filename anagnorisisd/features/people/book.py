"""What is kept about people, in the store, by content, like ratings.

- The people themselves (id, name, hidden) in one setting, `people`: a library has a few
  hundred people, not millions.
- Per photo (content hash), under user key `people`: the person the grouping gave each of
  its faces, by face index. Rewritten by every grouping; machine data.
- Per photo, under user key `face-fixes`: the person's own corrections, by face index:
  `{"person": ID or None, "not": [IDs], "hidden": bool}`. A grouping never overrides them:
  a face moved to Ana stays Ana's, a face marked "not Ben" never goes back to Ben.

Names and corrections are the person's work and are never garbage-collected, so they
survive moves, renames, restarts, model changes and a kill in the middle of a grouping
(each write is one LMDB transaction).

- The last corrections, newest last, under setting `people.undo`: what each changed, as it
  was before (`Correction`), so "undo" puts it back. A correction and its undo record are
  one transaction: after a kill, undo still undoes exactly the last correction kept.

No two people share a name (`name_key`: the same letters in any case, any spacing). A
library from before that rule, with two people named alike, has the later ones renamed
"Leonard (2)" when it is loaded, said in the log, for the person to merge or rename.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from anagnorisisd.store.database import Store

log = logging.getLogger(__name__)

PEOPLE_SETTING = "people"
ASSIGNED_KEY = "people"
FIXES_KEY = "face-fixes"
UNDO_SETTING = "people.undo"
UNDO_KEPT = 50
"""Corrections that can be undone, the newest first; older ones drop off."""

Fixes = dict[int, dict[str, Any]]
Assigned = dict[int, str]


def name_key(name: str) -> str:
    """What makes two names one: the same words in any case ("leonard" is "Leonard ")."""
    return " ".join(name.split()).casefold()


@dataclass
class Person:
    id: str
    name: str | None = None
    hidden: bool = False
    created: float = field(default_factory=time.time)
    touched: float = 0.0
    """When the person last chose this person (named them, gave them a face): the picker
    offers the people worked on lately first."""

    def as_record(self) -> dict[str, Any]:
        return {"name": self.name, "hidden": self.hidden, "created": self.created,
                "touched": self.touched}

    @staticmethod
    def from_record(pid: str, rec: dict[str, Any]) -> Person:
        return Person(pid, rec.get("name"), bool(rec.get("hidden")),
                      float(rec.get("created", 0.0)), float(rec.get("touched", 0.0)))


@dataclass
class Correction:
    """One correction as it can be undone: what it was ("moved a face to Ana") and the
    state it changed, as it was before: the people it touched (None: did not exist), and
    each touched photo's corrections and grouping."""

    what: str
    people: dict[str, dict[str, Any] | None]
    fixes: dict[bytes, Fixes]
    assigned: dict[bytes, Assigned]
    at: float = field(default_factory=time.time)

    def as_record(self) -> dict[str, Any]:
        return {"what": self.what, "at": self.at, "people": self.people,
                "fixes": {c.hex(): {str(k): v for k, v in f.items()}
                          for c, f in self.fixes.items()},
                "assigned": {c.hex(): {str(k): v for k, v in a.items()}
                             for c, a in self.assigned.items()}}

    @staticmethod
    def from_record(rec: dict[str, Any]) -> Correction:
        return Correction(
            str(rec.get("what", "a correction")), dict(rec.get("people") or {}),
            {bytes.fromhex(c): {int(k): dict(v) for k, v in f.items()}
             for c, f in (rec.get("fixes") or {}).items()},
            {bytes.fromhex(c): {int(k): str(v) for k, v in a.items()}
             for c, a in (rec.get("assigned") or {}).items()},
            float(rec.get("at", 0.0)))


def new_person_id() -> str:
    return uuid.uuid4().hex[:12]


class PeopleBook:
    def __init__(self, store: Store) -> None:
        self.store = store

    def load_people(self) -> dict[str, Person]:
        raw = self.store.get_setting(PEOPLE_SETTING) or {}
        people = {pid: Person.from_record(pid, rec) for pid, rec in raw.items()
                  if isinstance(rec, dict)}
        if unique_names(people):
            self.save_people(people)
        return people

    def save_people(self, people: dict[str, Person]) -> None:
        with self.store.write() as w:
            w.set_setting(PEOPLE_SETTING, {pid: p.as_record() for pid, p in people.items()})

    def assigned(self, content: bytes) -> dict[int, str]:
        raw = self.store.get_user(content, ASSIGNED_KEY) or {}
        return {int(k): str(v) for k, v in raw.items() if v is not None}

    def fixes(self, content: bytes) -> dict[int, dict[str, Any]]:
        raw = self.store.get_user(content, FIXES_KEY) or {}
        return {int(k): dict(v) for k, v in raw.items() if isinstance(v, dict)}

    def save_assigned(self, by_content: dict[bytes, dict[int, str]], batch: int = 2000) -> None:
        items = list(by_content.items())
        for start in range(0, len(items), batch):
            with self.store.write() as w:
                for content, faces in items[start : start + batch]:
                    w.set_user(content, ASSIGNED_KEY,
                               {str(k): v for k, v in faces.items()} or None)

    def save_fixes(self, content: bytes, fixes: dict[int, dict[str, Any]]) -> None:
        with self.store.write() as w:
            w.set_user(content, FIXES_KEY, {str(k): v for k, v in fixes.items()} or None)

    # ------------------------------------------------------------ corrections
    def undo_index(self) -> list[dict[str, Any]]:
        """The corrections that can be undone, oldest first: {"seq", "what", "at"} each."""
        raw = self.store.get_setting(UNDO_SETTING) or []
        return [dict(r) for r in raw if isinstance(r, dict) and isinstance(r.get("seq"), int)]

    def undo_entry(self, seq: int) -> Correction | None:
        raw = self.store.get_setting(f"{UNDO_SETTING}.{seq}")
        return Correction.from_record(raw) if isinstance(raw, dict) else None

    def commit(self, people: dict[str, Person], fixes: dict[bytes, Fixes],
               assigned: dict[bytes, Assigned], index: list[dict[str, Any]],
               put: tuple[int, Correction] | None = None, drop: Iterable[int] = ()) -> None:
        """A correction (or its undo) in one transaction: the people, the corrections and
        groupings of the photos it touched, its undo record (`put`) under a key of its own
        (a merge of a large person is a large record, written once), the records that
        drop off, and the index as it is after it."""
        with self.store.write() as w:
            w.set_setting(PEOPLE_SETTING, {pid: p.as_record() for pid, p in people.items()})
            for content, faces in fixes.items():
                w.set_user(content, FIXES_KEY, {str(k): v for k, v in faces.items()} or None)
            for content, machine in assigned.items():
                w.set_user(content, ASSIGNED_KEY, {str(k): v for k, v in machine.items()}
                           or None)
            if put is not None:
                w.set_setting(f"{UNDO_SETTING}.{put[0]}", put[1].as_record())
            for seq in drop:
                w.delete_setting(f"{UNDO_SETTING}.{seq}")
            w.set_setting(UNDO_SETTING, index)


def unique_names(people: dict[str, Person]) -> bool:
    """Give the later of two people named alike a numbered name ("Leonard (2)"): a library
    from before names were unique. True if a name changed."""
    seen: set[str] = set()
    changed = False
    for person in sorted(people.values(), key=lambda p: (p.created, p.id)):
        if not person.name:
            continue
        if name_key(person.name) in seen:
            number = 2
            while name_key(f"{person.name} ({number})") in seen:
                number += 1
            log.warning("two people were named %r: the later is now %r (merge or rename "
                        "them on the People page)", person.name, f"{person.name} ({number})")
            person.name = f"{person.name} ({number})"
            changed = True
        seen.add(name_key(person.name))
    return changed
