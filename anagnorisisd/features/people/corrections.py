"""The person's corrections to who is whom, and undoing them: naming, hiding and merging
people, moving a face, "not this person", hiding a face.

Every correction is made one way (`_correct`): the state it will touch is copied first
(the people it names, and the corrections and grouping of each photo it touches), the
change is made in memory, and the new state is written with the copy, the undo record, in
one transaction. If the write fails (a full disk) the copy is put back in memory, so the
panel never shows what the store does not hold. `undo` writes the copy back the same way.

No two people share a name: a name already taken is refused with the other person's id
(`NameTaken`), so the panel can offer to merge them; naming a face with a taken name puts
the face with that person.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from anagnorisisd.features.people.book import (
    UNDO_KEPT,
    Correction,
    Person,
    name_key,
    new_person_id,
)
from anagnorisisd.features.people.service import NoSuchPerson, People, split_face_id

T = TypeVar("T")


class NameTaken(ValueError):
    """A name another person has (the API's 409, with that person's id)."""

    def __init__(self, name: str, person: str) -> None:
        super().__init__(f"another person is already called {name!r}: merge the two, or "
                         "choose another name")
        self.person = person


class NothingToUndo(LookupError):
    """No correction is left to undo (the API's 409)."""


class PeopleCorrections:
    def __init__(self, people: People) -> None:
        self.people = people
        self.index: list[dict[str, Any]] = []
        """The corrections that can be undone, oldest first ({"seq", "what", "at"}); each
        one's undo record stays in the store until it is undone or drops off."""

    def load(self) -> None:
        self.index = self.people.book.undo_index()

    # ------------------------------------------------------------------ names
    def named(self, name: str) -> Person | None:
        """The person of that name, in any case and spacing."""
        key = name_key(name)
        return next((p for p in self.people.people.values()
                     if p.name and name_key(p.name) == key), None)

    def _free(self, name: str, pid: str | None) -> None:
        other = self.named(name)
        if other is not None and other.id != pid:
            raise NameTaken(" ".join(name.split()), other.id)

    def _require(self, pid: str) -> Person:
        person = self.people.people.get(pid)
        if person is None:
            raise NoSuchPerson(f"no person {pid}")
        return person

    def _label(self, pid: str | None) -> str:
        person = self.people.people.get(pid) if pid else None
        return person.name if person and person.name else "an unnamed person"

    # ------------------------------------------------------------ corrections
    def rename(self, pid: str, name: str | None) -> None:
        cleaned = " ".join(name.split()) if name and name.strip() else None
        with self.people._lock:
            person = self._require(pid)
            if cleaned:
                self._free(cleaned, pid)
            was = person.name

            def change() -> None:
                person.name = cleaned
                self._chosen(person)

            what = (f"named {was or 'a person'} {cleaned}" if cleaned
                    else f"took the name {was} away" if was else "left a person unnamed")
            self._correct(what, [pid], [], change)

    def hide(self, pid: str, hidden: bool) -> None:
        with self.people._lock:
            person = self._require(pid)

            def change() -> None:
                person.hidden = hidden
                self.people.final.touch(pid)

            self._correct(f"{'hid' if hidden else 'showed'} {self._label(pid)}", [pid], [],
                          change)

    def merge(self, pid: str, into: str) -> None:
        """Every face of `pid` becomes `into`'s as the person's own correction (so no
        grouping splits them again), and every correction naming `pid` names `into`;
        `into` keeps its name, or takes the other's if it had none."""
        if pid == into:
            raise ValueError("a person cannot be merged into themselves")
        p = self.people
        with p._lock:
            source, target = self._require(pid), self._require(into)
            faces = sorted(p.final.faces_of(pid))
            contents = {p.faces[f].content for f in faces}
            contents |= {p.faces[f].content for f, owner in p.machine.items()
                         if owner == pid and f in p.faces}
            contents |= {c for c, fixes in p.fixes.items() if any(
                f.get("person") == pid or pid in f.get("not", ()) for f in fixes.values())}

            def change() -> None:
                for fid in faces:
                    face = p.faces[fid]
                    fixes = p.fixes.setdefault(face.content, {})
                    fixes[face.index] = {**fixes.get(face.index, {}), "person": into,
                                         "box": list(face.box)}
                for fid, owner in list(p.machine.items()):
                    if owner == pid:
                        p.machine[fid] = into
                for content in contents:
                    for fix in p.fixes.get(content, {}).values():
                        if fix.get("person") == pid:
                            fix["person"] = into
                        if pid in fix.get("not", ()):
                            fix["not"] = sorted({into, *fix["not"]} - {pid})
                target.name = target.name or source.name
                del p.people[pid]
                self._chosen(target)
                p._settle()

            what = f"merged {self._label(pid)} into {self._label(into)}"
            self._correct(what, [pid, into], contents, change)

    def fix_face(self, fid: str, change: dict[str, Any]) -> str | None:
        """Move a face to a person (`person`: an id), out of its person ("not this
        person": `person` None, never put back by a grouping), to the person of a name
        (`name`), or hide it (a stranger in the background). The face's person after."""
        content, index = split_face_id(fid)
        p = self.people
        with p._lock:
            if fid not in p.faces:
                raise NoSuchPerson(f"no face {fid}")
            pids: list[str] = []
            current = p.final.get(fid)
            target: str | None = None
            naming: Person | None = None
            if "name" in change:
                target, naming = self._by_name_for(fid, str(change["name"]))
            elif "person" in change and change["person"] is not None:
                target = str(change["person"])
                self._require(target)
            if target:
                pids.append(target)
            if current:
                pids.append(current)

            def apply() -> None:
                if naming is not None:
                    p.people[naming.id] = naming
                fixes = p.fixes.setdefault(content, {})
                fix = dict(fixes.get(index, {}))
                fix["box"] = list(p.faces[fid].box)  # to follow it if the photo is redone
                if target is not None and naming is not None and naming.id == current:
                    pass  # an unnamed person named through one of its faces: the face stays
                elif target is not None:
                    fix["person"] = target
                    fix["not"] = [n for n in fix.get("not", []) if n != target]
                elif "person" in change:
                    fix["person"] = None
                    fix["not"] = sorted({*fix.get("not", []), *([current] if current else [])})
                if "hidden" in change:
                    fix["hidden"] = bool(change["hidden"])
                fixes[index] = fix
                if target:
                    self._chosen(p.people[target])
                p.final.set(fid, p._person_of(fid))
                if current:
                    p.final.touch(current)

            self._correct(self._face_what(change, target, naming, current), pids, [content],
                          apply)
            return p.final.get(fid)

    def _by_name_for(self, fid: str, name: str) -> tuple[str, Person | None]:
        """The person a face named `name` goes to: the one of that name; else its own
        person, if unnamed (naming the face names its group); else a new person. The
        second value is the person to name or make (None: one that exists, as is)."""
        cleaned = " ".join(name.split())
        if not cleaned:
            raise ValueError("a name is needed to name a face")
        existing = self.named(cleaned)
        if existing is not None:
            return existing.id, None
        current = self.people.final.get(fid)
        own = self.people.people.get(current) if current else None
        if own is not None and not own.name:
            named = copy.copy(own)
            named.name = cleaned
            return own.id, named
        pid = new_person_id()
        return pid, Person(pid, cleaned)

    def _face_what(self, change: dict[str, Any], target: str | None,
                   naming: Person | None, current: str | None) -> str:
        if naming is not None and naming.id == current:
            return f"named a person {naming.name}"
        if target is not None:
            name = naming.name if naming is not None else self._label(target)
            return f"put a face with {name}"
        if "person" in change:
            return f"took a face away from {self._label(current)}"
        return "hid a face" if change.get("hidden") else "showed a face"

    def new_person(self, name: str | None, faces: list[str]) -> str:
        """A person made by hand from some faces; every face must exist, so a bad id
        leaves no empty person behind, and the name must be free."""
        p = self.people
        cleaned = " ".join(name.split()) if name and name.strip() else None
        with p._lock:
            unknown = [f for f in faces if f not in p.faces]
            if unknown:
                raise NoSuchPerson(f"no face {unknown[0]}")
            if cleaned:
                self._free(cleaned, None)
            pid = new_person_id()
            person = Person(pid, cleaned)
            contents = {p.faces[f].content for f in faces}
            owners = {o for f in faces if (o := p.final.get(f))}

            def change() -> None:
                p.people[pid] = person
                self._chosen(person)
                for fid in faces:
                    content, index = split_face_id(fid)
                    fixes = p.fixes.setdefault(content, {})
                    fixes[index] = {**fixes.get(index, {}), "person": pid,
                                    "box": list(p.faces[fid].box)}
                    p.final.set(fid, p._person_of(fid))
                for owner in owners:
                    p.final.touch(owner)

            what = f"made {cleaned or 'a new person'} of {len(faces)} face" + (
                "s" if len(faces) != 1 else "")
            self._correct(what, [pid, *owners], contents, change)
            return pid

    # -------------------------------------------------------------------- undo
    def last(self) -> dict[str, Any] | None:
        """The correction an undo would undo, as the panel says it."""
        return {"what": self.index[-1]["what"], "at": self.index[-1]["at"]} if self.index \
            else None

    def undo(self) -> str:
        """Put back what the last correction changed; what it was."""
        p = self.people
        with p._lock:
            if not self.index:
                raise NothingToUndo("there is no correction to undo")
            seq = int(self.index[-1]["seq"])
            last = p.book.undo_entry(seq)
            if last is None:  # its record is gone: nothing can be put back for it
                self.index = self.index[:-1]
                raise NothingToUndo("the last correction can no longer be undone")
            contents = list(dict.fromkeys([*last.fixes, *last.assigned]))
            now = self._snapshot(last.what, last.people, contents)
            self._restore(last)
            try:
                p.book.commit(p.people, self._fixes_of(contents), self._machine(contents),
                              self.index[:-1], drop=[seq])
            except Exception:
                self._restore(now)
                raise
            self.index = self.index[:-1]
            p.changes += 1
            return last.what

    # --------------------------------------------------------------- plumbing
    def _chosen(self, person: Person) -> None:
        person.touched = time.time()
        self.people.final.touch(person.id)

    def _snapshot(self, what: str, pids: Iterable[str], contents: Iterable[bytes]
                  ) -> Correction:
        p = self.people
        return Correction(
            what, {pid: (p.people[pid].as_record() if pid in p.people else None)
                   for pid in pids},
            {c: copy.deepcopy(p.fixes.get(c, {})) for c in contents},
            {c: p._machine_of(c) for c in contents})

    def _fixes_of(self, contents: Iterable[bytes]) -> dict[bytes, dict[int, dict[str, Any]]]:
        return {c: self.people.fixes.get(c, {}) for c in contents}

    def _machine(self, contents: Iterable[bytes]) -> dict[bytes, dict[int, str]]:
        return {c: self.people._machine_of(c) for c in contents}

    def _correct(self, what: str, pids: Iterable[str], contents: Iterable[bytes],
                 change: Callable[[], T]) -> T:
        """Copy, change, write with the copy as the undo record; on a failed write, put the
        copy back and say so (the caller holds the lock)."""
        p = self.people
        contents = list(contents)
        before = self._snapshot(what, list(dict.fromkeys(pids)), contents)
        result = change()
        seq = int(self.index[-1]["seq"]) + 1 if self.index else 1
        index = [*self.index, {"seq": seq, "what": what, "at": before.at}]
        dropped = [int(e["seq"]) for e in index[:-UNDO_KEPT]]
        index = index[-UNDO_KEPT:]
        try:
            p.book.commit(p.people, self._fixes_of(contents), self._machine(contents), index,
                          put=(seq, before), drop=dropped)
        except Exception:
            self._restore(before)
            raise
        self.index = index
        p.changes += 1
        return result

    def _restore(self, state: Correction) -> None:
        """Memory as `state` says it was: its people, and its photos' corrections and
        grouping; then who is whom again."""
        p = self.people
        for pid, record in state.people.items():
            if record is None:
                p.people.pop(pid, None)
            else:
                p.people[pid] = Person.from_record(pid, record)
        for content, fixes in state.fixes.items():
            if fixes:
                p.fixes[content] = copy.deepcopy(fixes)
            else:
                p.fixes.pop(content, None)
        for content, machine in state.assigned.items():
            for fid in p.by_content.get(content, []):
                p.machine.pop(fid, None)
            for index, pid in machine.items():
                fid = f"{content.hex()}-{index}"
                if fid in p.faces:
                    p.machine[fid] = pid
        p._settle()
