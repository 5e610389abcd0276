"""The cull workflow's memory and plans: what the person picked, rejected and looked at;
the queue of groups still to look at; and what "trash the rejects" or "trash every
non-keeper of what I reviewed" would move, counted before anything moves.

Decisions are the person's work, so they live with ratings in the store's user table
(written before the reply, never garbage-collected) and are keyed by content, so they
follow a photo through renames. The groups themselves are derived (app.culling), so
they are never stale state: a stack and a near-duplicate group that share a photo are
one group here, because the person decides about those photos together.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from anagnorisisd.app.files import DECISIONS_SETTING
from anagnorisisd.events import FlagsChanged, Hub
from anagnorisisd.features.culling.grouping import Culling
from anagnorisisd.features.culling.keepers import faults
from anagnorisisd.imaging.xmp import LABELS
from anagnorisisd.search.disjoint import DisjointSet
from anagnorisisd.store.database import Store

DECISIONS = ("pick", "reject")


PLANS = ("rejects", "non-keepers")
HELD_BACK = ("grouped by the model, but their pixels do not look like the photo kept: "
             "they stay unless you reject them yourself")


class Reviews:
    def __init__(self, store: Store, culling: Culling, hub: Hub | None = None) -> None:
        self.store = store
        self.culling = culling
        self.hub = hub
        """Hears FlagsChanged after each pick, reject or label the person makes."""
        self._lock = threading.RLock()
        self._reviews: dict[bytes, dict[str, Any]] = dict(store.reviews())
        self.generation = int(store.get_setting(DECISIONS_SETTING) or 0)
        """Counts changes to decisions: a plan carries it, and a trash made from that plan
        refuses (DecisionsChanged) if a pick or reject came in between."""

    # --------------------------------------------------------------- recording
    def decide(self, content: bytes, decision: str | None) -> dict[str, Any]:
        if decision is not None and decision not in DECISIONS:
            raise ValueError(f"decision must be one of {', '.join(DECISIONS)} or null")
        with self._lock:
            review = dict(self._reviews.get(content, {}))
            review["decision"] = decision
            review["decided_at"] = time.time()
            review.setdefault("seen_at", review["decided_at"])
            self._save({content: review})
        self._tell(content, "decision")
        return self.review_json(content)

    def set_label(self, content: bytes, label: str | None) -> dict[str, Any]:
        """A colour label (one of imaging.xmp.LABELS), or None to take it off."""
        if label is not None and label not in LABELS:
            raise ValueError(f"label must be one of {', '.join(LABELS)} or null")
        with self._lock:
            review = {"decision": None, **self._reviews.get(content, {}), "label": label,
                      "labelled_at": time.time()}
            self._save({content: review})
        self._tell(content, "label")
        return self.review_json(content)

    def _tell(self, content: bytes, topic: str) -> None:
        if self.hub is not None:
            self.hub.publish(FlagsChanged(content, frozenset({topic})))

    def adopt(self, content: bytes, **changes: str | None) -> None:
        """A decision or label another tool gave in a sidecar, newer than any made here
        (features/sidecars): kept as the person's own, with no time of its own (so it never
        counts as decided here) and nothing published (it came from the sidecar)."""
        with self._lock:
            review = {"decision": None, **self._reviews.get(content, {})}
            for key, value in changes.items():
                review[key] = value
                review[{"decision": "decided_at", "label": "labelled_at"}[key]] = None
            self._save({content: review})

    def mark_seen(self, contents: list[bytes]) -> int:
        """A group was looked at: its photos leave the unreviewed queue."""
        now = time.time()
        with self._lock:
            changed = {c: {**self._reviews.get(c, {"decision": None}), "seen_at": now}
                       for c in contents if not self._reviews.get(c, {}).get("seen_at")}
            if changed:
                self._save(changed)
        return len(changed)

    def _save(self, reviews: dict[bytes, dict[str, Any]]) -> None:
        changed = any(r.get("decision") != self._reviews.get(c, {}).get("decision")
                      for c, r in reviews.items())
        with self.store.write() as w:  # StoreFull propagates: nothing changed, and it is said
            for content, review in reviews.items():
                w.set_review(content, review)
            if changed:  # what a trash made from an older plan is refused by (app.files)
                w.set_setting(DECISIONS_SETTING, self.generation + 1)
        if changed:
            self.generation += 1
        self._reviews.update(reviews)

    def decision(self, content: bytes) -> str | None:
        decision: str | None = self._reviews.get(content, {}).get("decision")
        return decision

    def label(self, content: bytes) -> str | None:
        label: str | None = self._reviews.get(content, {}).get("label")
        return label

    def seen(self, content: bytes) -> bool:
        return bool(self._reviews.get(content, {}).get("seen_at"))

    def review_json(self, content: bytes) -> dict[str, Any]:
        return {"id": content.hex(), "decision": self.decision(content),
                "label": self.label(content), "seen": self.seen(content)}

    # ------------------------------------------------------------------ groups
    def groups(self) -> list[tuple[str, list[bytes]]]:
        """Stacks and near-duplicate groups, merged where they share a photo, with live
        members only: (kind, members)."""
        grouping = self.culling.latest()
        catalog = self.culling.search.catalog
        kept_whole = {c for members in [*grouping.brackets, *grouping.panoramas]
                      for c in members}
        sources = [("stack", m) for m in grouping.stacks]
        sources += [("near-duplicates", [c for c in m if c not in kept_whole])
                    for m in grouping.duplicates if len(m) > 1]  # a bracket is never culled
        order: dict[bytes, int] = {}
        for _, members in sources:
            for content in members:
                if content in catalog:
                    order.setdefault(content, len(order))
        sets = DisjointSet(len(order))
        for _, members in sources:
            live = [order[c] for c in members if c in order]
            for other in live[1:]:
                sets.union(live[0], other)
        kinds: dict[int, set[str]] = {}
        for kind, members in sources:
            for content in members:
                if content in order:
                    kinds.setdefault(sets.find(order[content]), set()).add(kind)
        merged: dict[int, list[bytes]] = {}
        for content, i in order.items():
            merged.setdefault(sets.find(i), []).append(content)
        return [(" and ".join(sorted(kinds[root])), members)
                for root, members in merged.items() if len(members) > 1]

    def suggestion(self, members: list[bytes]) -> tuple[bytes | None, str]:
        """The keeper the person's taste suggests among the photos not rejected."""
        open_ = [c for c in members if self.decision(c) != "reject"]
        if not open_:
            return None, "you rejected every photo of this group"
        best, reason = self.culling.keeper(open_)
        if len(open_) < len(members):
            reason += (" (of the ones you did not reject)" if len(open_) > 1
                       else " (the only one you did not reject)")
        return best, reason

    def keeper(self, members: list[bytes],
               suggested: tuple[bytes | None, str] | None = None) -> tuple[list[bytes], str]:
        """The photos to keep: the person's picks if there are any, else the suggestion,
        which is never a photo the person rejected."""
        picks = [c for c in members if self.decision(c) == "pick"]
        if picks:
            return picks, "you picked " + ("it" if len(picks) == 1 else f"these {len(picks)}")
        best, reason = suggested or self.suggestion(members)
        return ([best] if best is not None else []), reason

    def queue_json(self) -> dict[str, Any]:
        """Every group, the unreviewed first (in the order they were found); the decisions
        it shows are those of its `generation`."""
        with self._lock:
            return self._queue_json()

    def _queue_json(self) -> dict[str, Any]:
        out: list[dict[str, Any]] = []
        for kind, members in self.groups():
            suggested, suggested_reason = self.suggestion(members)
            keep, reason = self.keeper(members, (suggested, suggested_reason))
            out.append({"key": members[0].hex(), "kind": kind,
                        "members": [c.hex() for c in members],
                        "keep": [c.hex() for c in keep],
                        "keeper": suggested.hex() if suggested else None,
                        "reason": reason, "suggested_reason": suggested_reason,
                        "reviewed": all(self.seen(c) for c in members),
                        "decisions": {c.hex(): self.decision(c) for c in members
                                      if self.decision(c)},
                        "faults": {c.hex(): said for c, said in faults(
                            [self.culling.candidate(c) for c in members]).items()}})
        out.sort(key=lambda g: g["reviewed"])
        unreviewed = sum(1 for g in out if not g["reviewed"])
        return {"groups": out, "generation": self.generation, "total": len(out),
                "unreviewed": unreviewed, "notice": self.culling.model_notice(),
                "rejects": sum(1 for c in self._reviews if self.decision(c) == "reject"
                               and c in self.culling.search.catalog)}

    # ------------------------------------------------------------------- plans
    def plan(self, what: str) -> dict[str, Any]:
        """The files a cull would move to the trash, counted first: every photo marked
        reject, or every photo of a reviewed group that is not kept. Made under the lock,
        so its `generation` is that of the decisions it used."""
        with self._lock:
            return self._plan(what)

    def _plan(self, what: str) -> dict[str, Any]:
        if what not in PLANS:
            raise ValueError(f"what must be one of {', '.join(PLANS)}")
        catalog = self.culling.search.catalog
        if what == "rejects":
            chosen = [c for c, r in self._reviews.items()
                      if r.get("decision") == "reject" and c in catalog]
        held: list[bytes] = []
        if what == "non-keepers":
            chosen = []
            for _, members in self.groups():
                if all(self.seen(c) for c in members):
                    keep, _ = self.keeper(members)
                    for c in members:
                        if c in keep:
                            continue
                        # The model grouped them; the pixels must agree, or the person.
                        if self.decision(c) == "reject" or self.culling.looks_alike(c, keep):
                            chosen.append(c)
                        else:
                            held.append(c)
        files = []
        for content in chosen:  # a RAW+JPEG pair is culled whole
            for one in [content, *catalog.twins(content)]:
                entry = catalog.get(one)
                for path in sorted(self.store.paths_for(one)):
                    files.append({"id": one.hex(), "path": path,
                                  "bytes": entry.file_size if entry else 0})
        return {"what": what, "generation": self.generation, "count": len(files),
                "images": len(chosen),
                "bytes": sum(f["bytes"] for f in files), "files": files,
                "held_back": [c.hex() for c in held],
                "held_back_reason": HELD_BACK if held else None,
                "notice": self.culling.model_notice()}

    def uncertain(self, count: int) -> list[bytes]:
        """Photos to ask about first in rate-next: the two leaders of the groups whose
        keeper is the closest call (no rating of the person's own to decide it, and the
        evaluator's predictions for the two best nearly equal)."""
        calls: list[tuple[float, list[bytes]]] = []
        catalog = self.culling.search.catalog
        for _, members in self.groups():
            entries = [(c, catalog.get(c)) for c in members]
            if any(e is not None and e.user_rating is not None for _, e in entries):
                continue
            if any(self.decision(c) == "pick" for c in members):
                continue
            predicted = sorted(((e.model_rating if e and e.model_rating is not None else -1.0),
                                c) for c, e in entries)
            (second, b), (first, a) = predicted[-2], predicted[-1]
            margin = first - second if second >= 0 else 0.0
            calls.append((margin, [a, b]))
        calls.sort(key=lambda call: call[0])
        out: list[bytes] = []
        for _, pair in calls:
            out += [c for c in pair if c not in out]
            if len(out) >= count:
                break
        return out[:count]
