"""The people of the library: every stored face, the person each belongs to, and the
person's own names and corrections, held in memory and answered from there.

Faces arrive from the faces stage one photo at a time and join people incrementally
(clustering.nearest): a face whose nearest grouped face is within the model's
`max_distance` joins that face's person; a face with `min_faces` ungrouped faces close to
it founds a new person with them. A full grouping (DBSCAN) runs on request and in the
background after RECLUSTER_AFTER new faces stayed ungrouped. Whatever the grouping says,
the person's corrections (book.py) win: they are applied last, every time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.features.people import clustering
from anagnorisisd.features.people.book import PeopleBook, Person, new_person_id
from anagnorisisd.features.people.membership import Membership
from anagnorisisd.ml.face_thresholds import Thresholds, thresholds_for
from anagnorisisd.store.database import Store

log = logging.getLogger(__name__)

RECLUSTER_AFTER = 200
"""Faces left ungrouped since the last grouping that start a background one."""


class NoSuchPerson(KeyError):
    """An unknown person or face id (the API's 404)."""


@dataclass(frozen=True)
class FaceRow:
    content: bytes
    index: int
    box: tuple[float, ...]
    score: float
    small: bool
    row: int
    at_s: float | None = None
    """For a face found in a video's scene: the second of its scene."""

    @property
    def id(self) -> str:
        return f"{self.content.hex()}-{self.index}"


def overlap(a: tuple[float, ...] | list[float], b: tuple[float, ...] | list[float]) -> float:
    """Intersection over union of two boxes (x1, y1, x2, y2)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union > 0 else 0.0


SAME_FACE = 0.5
"""Boxes overlapping this much (IoU) in two runs over one photo are the same face."""


def split_face_id(face_id: str) -> tuple[bytes, int]:
    content, _, index = face_id.partition("-")
    try:
        return bytes.fromhex(content), int(index)
    except ValueError:
        raise NoSuchPerson(f"no face {face_id}") from None


class People:
    def __init__(self, store: Store, stage: str | None) -> None:
        self.store = store
        self.stage = stage
        """The stage that provides "faces" (none: no faces, no people)."""
        self.book = PeopleBook(store)
        self.people: dict[str, Person] = {}
        self.faces: dict[str, FaceRow] = {}
        self.by_content: dict[bytes, list[str]] = {}
        self.looked_at: set[bytes] = set()
        """Photos the faces stage has looked at, with faces or without."""
        self.machine: dict[str, str] = {}
        self.fixes: dict[bytes, dict[int, dict[str, Any]]] = {}
        self.final = Membership()
        """Who each face belongs to once corrections are applied, and the inverse."""
        self.vectors = np.zeros((0, 0), dtype=np.float32)
        """Every face's vector, as float32 (2 KB a face at 512-d): joining a face is one
        matrix-vector product over them, with no conversion of the whole matrix."""
        self.row_face: list[str | None] = []
        self.groupable = np.zeros(0, dtype=bool)
        """Per row: a face that may be grouped (present, not small); hidden faces are left
        out where they are met, a few at a time."""
        self.dim: int | None = None
        self.ungrouped_since = 0
        self.changes = 0
        """Counts every change to who is whom: what cached answers are keyed on."""
        self.grouping: dict[str, Any] = {"state": "idle", "last": None}
        self._lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # ------------------------------------------------------------ loading
    def load(self) -> None:
        with self._lock:
            self.people = self.book.load_people()
            for content in self.store.live_hashes():
                self._read(content)
            self._settle()

    def _read(self, content: bytes) -> None:
        """A photo's stored faces, people and corrections, unless already held (heard
        from the stage before loading began, say)."""
        if content in self.looked_at:
            return
        output = self.store.get_result(content, self.stage) if self.stage else None
        if not output:
            return
        self.looked_at.add(content)
        self._add_rows(content, output)
        for index, pid in self.book.assigned(content).items():
            self.machine[f"{content.hex()}-{index}"] = pid
        fixes = self.book.fixes(content)
        if fixes:
            self.fixes[content] = fixes
            if min(fixes) < 0:  # set aside when the face was missed: found again now?
                self._follow_fixes(content, [self.faces[f] for f in self.by_content.get(
                    content, [])])

    def thresholds(self) -> Thresholds:
        return thresholds_for(self.dim or 512)

    def _add_rows(self, content: bytes, output: dict[str, Any]) -> list[FaceRow]:
        dim = output.get("dim")
        if not isinstance(dim, int) or dim <= 0:
            return []
        if self.dim is None or (self.dim != dim and not self.faces):
            self.dim = dim
            self.vectors = np.zeros((0, dim), dtype=np.float32)
            self.groupable = np.zeros(0, dtype=bool)
            self.row_face = []
        if dim != self.dim:
            return []  # faces of another model, still to be redone by the stage
        added = []
        for index, face in enumerate(output.get("faces") or []):
            vector = np.frombuffer(face["vector"], dtype=np.float16)
            if len(vector) != dim:
                continue
            row = len(self.row_face)
            if row >= len(self.vectors):
                grown = np.zeros((max(64, 2 * len(self.vectors)), dim), dtype=np.float32)
                grown[: len(self.vectors)] = self.vectors
                self.vectors = grown
                self.groupable = np.concatenate(
                    [self.groupable, np.zeros(len(grown) - len(self.groupable), dtype=bool)])
            self.vectors[row] = vector
            self.groupable[row] = not face.get("small")
            at = face.get("at_s")
            item = FaceRow(content, index, tuple(face["box"]), float(face["score"]),
                           bool(face.get("small")), row,
                           float(at) if isinstance(at, int | float) else None)
            self.row_face.append(item.id)
            self.faces[item.id] = item
            self.by_content.setdefault(content, []).append(item.id)
            added.append(item)
        return added

    def _forget_other_model(self) -> None:
        """A face arriving now comes from the stage's current model; faces of another
        length are an older model's, still to be redone, and cannot be compared with
        it. They leave (corrections stay in the store and follow their faces back)."""
        log.info("faces of a new face model arrive: the older model's faces leave")
        for content in [c for c, ids in self.by_content.items() if ids]:
            self._drop(content)
        self.dim = None

    def _drop(self, content: bytes) -> None:
        for fid in self.by_content.pop(content, []):
            face = self.faces.pop(fid)
            self.row_face[face.row] = None
            self.groupable[face.row] = False
            self.machine.pop(fid, None)
            self.final.drop(fid)

    # --------------------------------------------------------- assignment
    def _fix(self, fid: str) -> dict[str, Any]:
        face = self.faces[fid]
        return self.fixes.get(face.content, {}).get(face.index, {})

    def _person_of(self, fid: str) -> str | None:
        fix = self._fix(fid)
        if fix.get("hidden"):
            return None
        if "person" in fix:
            pid = fix["person"]
            return pid if pid in self.people else None
        pid = self.machine.get(fid)
        if pid is None or pid in fix.get("not", ()) or pid not in self.people:
            return None
        return pid

    def _settle(self) -> None:
        self.final.reset({fid: self._person_of(fid) for fid in self.faces})
        self.changes += 1

    def _groupable(self) -> tuple[NDArray[np.int64], list[str]]:
        """Rows and ids of every face a grouping looks at (not small, not hidden)."""
        rows = np.flatnonzero(self.groupable[: len(self.row_face)])
        keep = [(int(r), fid) for r in rows if (fid := self.row_face[r]) is not None
                and not self._fix(fid).get("hidden")]
        return np.asarray([r for r, _ in keep], dtype=np.int64), [f for _, f in keep]

    def on_result(self, content: bytes, output: dict[str, Any]) -> None:
        """A photo's faces, new or redone: join people without regrouping the library."""
        with self._lock:
            self.changes += 1
            self._drop(content)
            self.looked_at.add(content)
            dim = output.get("dim")
            if isinstance(dim, int) and self.dim is not None and dim != self.dim:
                self._forget_other_model()
            added = self._add_rows(content, output)
            if content in self.fixes and (added or not output.get("faces")):
                self._follow_fixes(content, added)
            limits = self.thresholds()
            changed: dict[bytes, dict[int, str]] = {}
            for face in added:
                if face.small:  # kept as found, never grouped; a correction still counts
                    self.final.set(face.id, self._person_of(face.id))
                    continue
                pid, founders = self._join(face, limits)
                if pid is None:
                    self.final.set(face.id, self._person_of(face.id))
                    self.ungrouped_since += 1
                    continue
                for fid in [face.id, *founders]:
                    self.machine[fid] = pid
                    self.final.set(fid, self._person_of(fid))
                    changed.setdefault(self.faces[fid].content, {})[self.faces[fid].index] = pid
                if founders:
                    self.book.save_people(self.people)
        if changed:
            self.book.save_assigned({c: self._machine_of(c) for c in changed})
        if self.ungrouped_since >= RECLUSTER_AFTER:
            self.regroup_in_background()

    def _follow_fixes(self, content: bytes, faces: list[FaceRow]) -> None:
        """A photo redone (another face model, a new stage version) may list its faces
        in another order: each correction follows the face its box overlaps most. One
        whose face is found no more is set aside under a negative index (never a face's),
        to come back if a later run finds that face again."""
        fixes = self.fixes[content]
        followed: dict[int, dict[str, Any]] = {}
        lost: list[dict[str, Any]] = []
        boxed = {i: f for i, f in fixes.items()
                 if isinstance(f.get("box"), list) and len(f["box"]) == 4}
        for fix in boxed.values():
            best = max(faces, key=lambda f: overlap(f.box, fix["box"]), default=None)
            if best is not None and best.index not in followed \
                    and overlap(best.box, fix["box"]) >= SAME_FACE:
                followed[best.index] = {**fix, "box": list(best.box)}
            else:
                lost.append(fix)
        for index, fix in fixes.items():  # corrections made before boxes were kept
            if index not in boxed:
                if index in followed:
                    lost.append(fix)
                else:
                    followed[index] = fix
        for k, fix in enumerate(lost, 1):
            followed[-k] = fix
        if followed != fixes:
            self.fixes[content] = followed
            self.book.save_fixes(content, followed)

    def _join(self, face: FaceRow, limits: Thresholds
              ) -> tuple[str | None, list[str]]:
        """The person a new face joins, and the ungrouped faces that found a new person
        with it (none when it joins an existing one)."""
        self.final.set(face.id, None)
        rows = np.flatnonzero(self.groupable[: len(self.row_face)])
        rows = rows[rows != face.row]
        if not len(rows):
            return None, []
        # one product over every row (no gathered copy), read at the groupable ones
        distance = (1.0 - self.vectors[: len(self.row_face)] @ self.vectors[face.row])[rows]
        close = [p for p in np.flatnonzero(distance <= limits.max_distance)
                 if not self._fix(str(self.row_face[rows[p]])).get("hidden")]
        ids = {p: str(self.row_face[rows[p]]) for p in close}
        refused = set(self._fix(face.id).get("not", ()))
        for position in sorted(close, key=lambda p: distance[p]):
            pid = self.final.get(ids[position])
            if pid is not None and pid not in refused:
                return pid, []
        loose = [ids[p] for p in close if self.final.get(ids[p]) is None
                 and "person" not in self._fix(ids[p])]
        if len(loose) + 1 < limits.min_faces:
            return None, []
        pid = new_person_id()  # enough alike and ungrouped: a new person
        self.people[pid] = Person(pid)
        return pid, loose

    def _machine_of(self, content: bytes) -> dict[int, str]:
        return {self.faces[f].index: self.machine[f] for f in self.by_content.get(content, [])
                if f in self.machine}

    def on_content(self, born: list[bytes], died: list[bytes]) -> None:
        """Photos gone leave; photos back (a rename is a death and a birth, a restored
        file a birth) come back with their stored faces, people and corrections: no
        stage runs again for content it has seen."""
        with self._lock:
            self.changes += 1
            for content in died:
                self._drop(content)
                self.looked_at.discard(content)
            for content in born:
                self._read(content)
                for fid in self.by_content.get(content, []):
                    self.final.set(fid, self._person_of(fid))

    # ----------------------------------------------------------- grouping
    def regroup(self) -> dict[str, Any]:
        """Group every face afresh; people keep their ids (and names) by majority."""
        started = time.monotonic()
        with self._lock:
            rows, ids = self._groupable()
            vectors = self.vectors[rows]
            limits = self.thresholds()
            self.grouping = {"state": "running", "faces": len(ids), "last": self.grouping.get(
                "last")}
        labels = clustering.group(vectors, limits)
        if self._stopping.is_set():  # stopping: nothing changed, the next start groups again
            with self._lock:
                self.grouping = {**self.grouping, "state": "idle"}
            return {}
        with self._lock:
            fresh = self._name_groups(ids, labels)
            for fid in ids:
                self.machine.pop(fid, None)
            self.machine.update(fresh)
            self.ungrouped_since = 0
            self._settle()
            contents = {self.faces[f].content for f in ids if f in self.faces}
            to_save = {c: self._machine_of(c) for c in contents}
            summary = {"faces": len(ids), "groups": len(set(labels[labels >= 0].tolist())),
                       "ungrouped": int((labels < 0).sum()),
                       "seconds": round(time.monotonic() - started, 2), "at": time.time()}
            self.grouping = {"state": "idle", "last": summary}
            self.book.save_people(self.people)
        self.book.save_assigned(to_save)
        return summary

    def _name_groups(self, ids: list[str], labels: NDArray[np.int64]) -> dict[str, str]:
        """Each new group takes the id its faces voted for (corrections count five times),
        the largest groups choosing first; a group nobody knew becomes a new person. Two
        groups share one id only where the person put faces of both there by hand (one
        person can look like two groups: with a beard and without, merged)."""
        groups: dict[int, list[str]] = {}
        for fid, label in zip(ids, labels.tolist(), strict=True):
            if label >= 0:
                groups.setdefault(label, []).append(fid)
        taken: set[str] = set()
        out: dict[str, str] = {}
        for members in sorted(groups.values(), key=len, reverse=True):
            votes: Counter[str] = Counter()
            by_hand: set[str] = set()
            for fid in members:
                fix = self._fix(fid)
                if fix.get("person"):
                    votes[fix["person"]] += 5
                    by_hand.add(fix["person"])
                elif self.machine.get(fid):
                    votes[self.machine[fid]] += 1
            pid = next((p for p, _ in votes.most_common() if (p not in taken or p in by_hand)
                        and p in self.people), None)
            if pid is None:
                pid = new_person_id()
                self.people[pid] = Person(pid)
            taken.add(pid)
            out.update({fid: pid for fid in members})
        return out

    def regroup_in_background(self) -> bool:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return False
            self.ungrouped_since = 0
            self._thread = threading.Thread(target=self._regroup_logged, name="people-regroup",
                                            daemon=True)
            self._thread.start()
            return True

    def stop(self, timeout: float) -> bool:
        """Let a regrouping in the background end (its result is not kept) and join it; True
        if no thread of it is left."""
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _regroup_logged(self) -> None:
        try:
            self.regroup()
        except Exception:
            log.exception("grouping faces into people failed")
            with self._lock:
                self.grouping = {**self.grouping, "state": "failed"}
