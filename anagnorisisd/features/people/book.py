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
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from anagnorisisd.store.database import Store

PEOPLE_SETTING = "people"
ASSIGNED_KEY = "people"
FIXES_KEY = "face-fixes"


@dataclass
class Person:
    id: str
    name: str | None = None
    hidden: bool = False
    created: float = field(default_factory=time.time)

    def as_record(self) -> dict[str, Any]:
        return {"name": self.name, "hidden": self.hidden, "created": self.created}


def new_person_id() -> str:
    return uuid.uuid4().hex[:12]


class PeopleBook:
    def __init__(self, store: Store) -> None:
        self.store = store

    def load_people(self) -> dict[str, Person]:
        raw = self.store.get_setting(PEOPLE_SETTING) or {}
        return {pid: Person(pid, rec.get("name"), bool(rec.get("hidden")),
                            float(rec.get("created", 0.0)))
                for pid, rec in raw.items() if isinstance(rec, dict)}

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
