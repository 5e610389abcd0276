"""What the API, the CLI and the query language ask of people, and the person's edits.

Reads are answered from memory (People), so the people page and a `person:` query cost
a dictionary walk, not a store scan. Every edit is written to the store before it is
answered: a name or a correction acknowledged is never lost.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from anagnorisisd.features.people.book import Person
from anagnorisisd.features.people.service import FaceRow, NoSuchPerson, People
from anagnorisisd.search.query import Filter

COMPARE = {">=": int.__ge__, "<=": int.__le__, ">": int.__gt__, "<": int.__lt__,
           "=": int.__eq__, "!=": int.__ne__}


class PeopleDesk:
    def __init__(self, people: People, signals_stage: str | None = None) -> None:
        self.people = people
        self.signals_stage = signals_stage
        """The stage that provides "face_quality" (eyes, focus), if any."""
        self._summaries: dict[str, dict[str, Any]] = {}
        """Each person's line on the people page, remade only for the people whose faces,
        name or visibility changed since (Membership.take_changed): after a new face joins,
        the page costs that person's faces and a sort, not a walk over every face."""
        self._listings: dict[bool, tuple[int, list[dict[str, Any]]]] = {}
        """The last listing of the shown and of the hidden people, by People.changes."""

    # ---------------------------------------------------------------- reads
    def _faces(self, pid: str) -> list[FaceRow]:
        return [self.people.faces[fid] for fid in sorted(self.people.final.faces_of(pid))]

    def _fresh_summaries(self) -> dict[str, dict[str, Any]]:
        changed = self.people.final.take_changed()
        if changed is None:
            self._summaries = {}
            changed = set(self.people.people)
        for pid in changed:
            person = self.people.people.get(pid)
            if person is None:
                self._summaries.pop(pid, None)
            else:
                self._summaries[pid] = self._summary(person, self._faces(pid))
        for pid in self._summaries.keys() - self.people.people.keys():
            del self._summaries[pid]
        for pid in self.people.people.keys() - self._summaries.keys():
            self._summaries[pid] = self._summary(self.people.people[pid], [])
        return self._summaries

    def listing(self, hidden: bool = False) -> list[dict[str, Any]]:
        """Everyone with a face, the largest first; named people without faces left too."""
        with self.people._lock:
            cached = self._listings.get(hidden)
            if cached is not None and cached[0] == self.people.changes:
                return cached[1]
            out = [s for s in self._fresh_summaries().values()
                   if s["hidden"] == hidden and (s["faces"] or s["name"])]
            out.sort(key=lambda p: (-p["faces"], p["name"] or "~", p["id"]))
            self._listings[hidden] = (self.people.changes, out)
        return out

    @staticmethod
    def _summary(person: Person, faces: list[FaceRow]) -> dict[str, Any]:
        cover = max(faces, key=lambda f: (f.box[2] - f.box[0]) * f.score) if faces else None
        return {"id": person.id, "name": person.name, "hidden": person.hidden,
                "faces": len(faces), "photos": len({f.content for f in faces}),
                "cover": cover.id if cover else None, "touched": person.touched or None}

    def person(self, pid: str) -> dict[str, Any]:
        """A person with their faces, the most doubtful first: each face's likeness is its
        cosine to the mean of the person's faces, so a face put here by mistake sorts to
        the top, where a few keys fix it."""
        with self.people._lock:
            person = self.people.people.get(pid)
            if person is None:
                raise NoSuchPerson(f"no person {pid}")
            faces = self._faces(pid)
            summary = self._summary(person, faces)
            likeness = self._likeness(faces)
            listed = []
            for face in faces:
                item = self.face(face.id)
                item["likeness"] = likeness.get(face.id)
                listed.append(item)
            listed.sort(key=lambda f: (f["likeness"] is None, f["likeness"] or 0.0, f["id"]))
            summary["face_list"] = listed
            summary["photo_ids"] = sorted({f.content.hex() for f in faces})
        return summary

    def _likeness(self, faces: list[FaceRow]) -> dict[str, float]:
        """Each face's cosine to the normalised mean of the person's grouped (not small)
        faces; none for small faces, whose vectors are not trusted."""
        rows = [f.row for f in faces if not f.small]
        if not rows:
            return {}
        vectors = self.people.vectors[rows]
        centre = vectors.mean(axis=0)
        norm = float(np.linalg.norm(centre))
        if norm <= 0:
            return {}
        scores = vectors @ (centre / norm)
        return {f.id: round(float(s), 4) for f, s in zip(
            [f for f in faces if not f.small], scores, strict=True)}

    def face(self, fid: str) -> dict[str, Any]:
        face = self.people.faces.get(fid)
        if face is None:
            raise NoSuchPerson(f"no face {fid}")
        pid = self.people.final.get(fid)
        person = self.people.people.get(pid) if pid else None
        return {"id": fid, "image": face.content.hex(), "box": list(face.box),
                "score": face.score, "small": face.small, "person": pid,
                "name": person.name if person else None,
                "hidden": bool(self.people._fix(fid).get("hidden")), "at_s": face.at_s}

    def faces_of(self, content: bytes) -> list[dict[str, Any]]:
        """A photo's faces, each with its eyes and focus once they are measured ("unknown"
        and null before)."""
        with self.people._lock:
            faces = [self.face(fid) for fid in self.people.by_content.get(content, [])]
        signals = (self.people.store.get_result(content, self.signals_stage) or {}
                   if self.signals_stage else {})
        measured = signals.get("faces") or []
        for face in faces:
            index = int(face["id"].rpartition("-")[2])
            found = measured[index] if index < len(measured) else {}
            face["eyes"] = found.get("eyes", "unknown")
            face["sharpness"] = found.get("sharpness")
            face["blurry"] = found.get("blurry")
            face["looking"] = found.get("looking", "unknown")
        return faces

    def photos_with(self, name_or_id: str) -> set[bytes]:
        """Photos showing the person of that name (any case) or id; empty if nobody is."""
        wanted = name_or_id.strip().lower()
        with self.people._lock:
            pids = {pid for pid, p in self.people.people.items()
                    if pid == wanted or (p.name or "").lower() == wanted}
            return {self.people.faces[fid].content for pid in pids
                    for fid in self.people.final.faces_of(pid)}

    def seen_at(self, name_or_id: str, contents: set[bytes]) -> dict[bytes, float]:
        """For clips among `contents`: the second of the first scene the person is in."""
        wanted = name_or_id.strip().lower()
        out: dict[bytes, float] = {}
        with self.people._lock:
            for pid, person in self.people.people.items():
                if pid != wanted and (person.name or "").lower() != wanted:
                    continue
                for fid in self.people.final.faces_of(pid):
                    face = self.people.faces[fid]
                    if face.content in contents and face.at_s is not None:
                        out[face.content] = min(face.at_s, out.get(face.content, face.at_s))
        return out

    def photos_with_unnamed(self) -> set[bytes]:
        """Photos with a face that is in no named person (small faces aside)."""
        with self.people._lock:
            out = set()
            for fid, pid in self.people.final.items():
                face = self.people.faces[fid]
                named = pid is not None and self.people.people[pid].name
                if not named and not face.small and not self.people._fix(fid).get("hidden"):
                    out.add(face.content)
            return out

    def passing(self, f: Filter) -> set[bytes]:
        """The photos that pass a person:, unnamed: or faces filter of the query language."""
        if f.field == "person":
            return self.photos_with(str(f.value))
        if f.field == "unnamed":
            return self.photos_with_unnamed()
        wanted, compare = int(float(f.value)), COMPARE[f.op]
        with self.people._lock:
            return {c for c in self.people.looked_at
                    if compare(len(self.people.by_content.get(c, ())), wanted)}

    def photo_order(self) -> dict[bytes, int]:
        """Each photo with someone in it, by the place of its first person: named people
        A to Z, then unnamed people the largest first (the `person` sort). Hidden people
        and faces count as no one."""
        ranks = {s["id"]: k for k, s in enumerate(sorted(
            (s for s in self.listing() if s["faces"]),
            key=lambda s: (s["name"] is None, (s["name"] or "").casefold(), -s["faces"],
                           s["id"])))}
        out: dict[bytes, int] = {}
        with self.people._lock:
            for pid, rank in ranks.items():
                for fid in self.people.final.faces_of(pid):
                    content = self.people.faces[fid].content
                    if rank < out.get(content, len(ranks)):
                        out[content] = rank
        return out

    def counts(self) -> dict[str, Any]:
        with self.people._lock:
            final = Counter(pid is not None for pid in self.people.final.values())
            return {"photos_looked_at": len(self.people.looked_at),
                    "faces": len(self.people.faces), "grouped": final[True],
                    "people": len(list(self.people.final.people())),
                    "named": sum(1 for p in self.people.people.values() if p.name),
                    "grouping": self.people.grouping,
                    "thresholds": vars(self.people.thresholds())}
