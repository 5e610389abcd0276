"""A face cut from its photo (160 px JPEG), for the People page and the viewer: rendered
on a thread of the HTTP pool through the one bounded decode path, and kept in a small
cache of recent ones (a People page shows the same faces again and again)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from anagnorisisd.imaging.decoding import failure_reason
from anagnorisisd.imaging.face_crop import face_crop

KEPT = 2000


class FaceCrops:
    def __init__(self, store: Any, people: Any, faces_stage: str | None,
                 kept: int = KEPT) -> None:
        self.store = store
        self.people = people
        self.faces_stage = faces_stage or "faces"
        self.kept = kept
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def crop(self, fid: str) -> bytes:
        """The face's crop; LookupError saying why there is none."""
        face = self.people.faces.get(fid)
        if face is None:
            raise LookupError("no such face")
        with self._lock:
            if fid in self._items:
                self._items.move_to_end(fid)
                return self._items[fid]
        meta = self.store.get_result(face.content, self.faces_stage) or {}
        full = (int(meta.get("width") or 0), int(meta.get("height") or 0))
        for path in self.store.paths_for(face.content):
            try:
                data = face_crop(path, face.box, full, face.at_s)
            except FileNotFoundError:
                continue
            except Exception as exc:
                raise LookupError(f"the face's photo cannot be read: {failure_reason(exc)}"
                                  ) from None
            with self._lock:
                self._items[fid] = data
                while len(self._items) > self.kept:
                    self._items.popitem(last=False)
            return data
        raise LookupError("the face's photo is gone")
