"""Who each face finally belongs to, with the inverse kept beside it.

The people page and a `person:` query ask the other way round (whose faces are these?).
Walking every face to answer them costs 200 ms at 100,000 faces; keeping the inverse
costs a set operation per change. The people whose faces changed since an answer was
last made are remembered, so a cached answer is remade only for them.
"""

from __future__ import annotations

import builtins
from collections.abc import ItemsView, Iterable, ValuesView


class Membership:
    def __init__(self) -> None:
        self._person: dict[str, str | None] = {}
        self._faces: dict[str, set[str]] = {}
        self._changed: set[str] = set()
        self._all_changed = True

    # ------------------------------------------------------------- reads
    def get(self, face: str) -> str | None:
        return self._person.get(face)

    def __contains__(self, face: object) -> bool:
        return face in self._person

    def __len__(self) -> int:
        return len(self._person)

    def items(self) -> ItemsView[str, str | None]:
        return self._person.items()

    def values(self) -> ValuesView[str | None]:
        return self._person.values()

    def faces_of(self, person: str) -> builtins.set[str]:
        """The faces of a person (a live set: copy it to keep it across changes)."""
        return self._faces.get(person, set())

    def people(self) -> Iterable[str]:
        """Everyone with at least one face."""
        return self._faces.keys()

    # ------------------------------------------------------------ writes
    def set(self, face: str, person: str | None) -> None:
        if face in self._person:
            old = self._person[face]
            if old == person:
                return
            self._leave(face, old)
        self._person[face] = person
        if person is not None:
            self._faces.setdefault(person, set()).add(face)
            self._changed.add(person)

    def drop(self, face: str) -> None:
        if face in self._person:
            self._leave(face, self._person.pop(face))

    def reset(self, assignment: dict[str, str | None]) -> None:
        """Everything afresh (after a full grouping): every cached answer is stale."""
        self._person, self._faces = {}, {}
        for face, person in assignment.items():
            self.set(face, person)
        self._all_changed = True

    def touch(self, person: str) -> None:
        """Something shown of this person other than its faces changed (a name, say)."""
        self._changed.add(person)

    def take_changed(self) -> builtins.set[str] | None:
        """The people changed since the last call; None when every one may have."""
        changed, everyone = self._changed, self._all_changed
        self._changed, self._all_changed = set(), False
        return None if everyone else changed

    def _leave(self, face: str, person: str | None) -> None:
        if person is None:
            return
        faces = self._faces.get(person)
        if faces is not None:
            faces.discard(face)
            if not faces:
                del self._faces[person]
        self._changed.add(person)
