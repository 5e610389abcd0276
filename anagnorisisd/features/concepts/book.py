"""What is kept about concepts, in the store, by content, like ratings and names.

- The concepts themselves (name, when made, the trained scorer with the model it was
  trained on, its numbers) in one setting, `concepts`: a person has tens, not millions.
- Per photo (content hash), under user key `concepts`: the person's answers,
  ``{concept id: "yes" | "no"}``. Answers are the person's work: each is one LMDB
  transaction, written before it is acknowledged, kept by content (a move or rename
  loses nothing) and never garbage-collected.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from anagnorisisd.store.database import Store
from anagnorisisd.store.records import unpack

CONCEPTS_SETTING = "concepts"
ANSWERS_KEY = "concepts"
ANSWERS = ("yes", "no")


def new_concept_id() -> str:
    return uuid.uuid4().hex[:12]


class ConceptBook:
    def __init__(self, store: Store) -> None:
        self.store = store

    def load_concepts(self) -> dict[str, dict[str, Any]]:
        raw = self.store.get_setting(CONCEPTS_SETTING) or {}
        return {cid: dict(rec) for cid, rec in raw.items()
                if isinstance(cid, str) and isinstance(rec, dict) and isinstance(
                    rec.get("name"), str)}

    def save_concepts(self, concepts: dict[str, dict[str, Any]]) -> None:
        with self.store.write() as w:
            w.set_setting(CONCEPTS_SETTING, concepts)

    def all_answers(self) -> Iterator[tuple[bytes, dict[str, str]]]:
        """Every photo's answers, live or not (one pass over the user table at start)."""
        suffix = ANSWERS_KEY.encode()
        with self.store.env.begin() as txn:
            for key, raw in txn.cursor(db=self.store.user):
                if len(key) == 32 + len(suffix) and bytes(key[32:]) == suffix:
                    yield bytes(key[:32]), self._clean(unpack(bytes(raw)))

    @staticmethod
    def _clean(value: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            return {}
        return {str(k): str(v) for k, v in value.items() if v in ANSWERS}

    def save_answers(self, answers: dict[bytes, dict[str, str]]) -> None:
        """Each photo's answers as they now are, all in one transaction."""
        with self.store.write() as w:
            for content, given in answers.items():
                w.set_user(content, ANSWERS_KEY, dict(given) or None)
