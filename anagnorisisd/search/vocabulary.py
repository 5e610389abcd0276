"""The table of query words: who owns each, and how a query string becomes a Query.

Every word comes from a feature (``Feature.words``; the library's own columns are the
core feature, search/core_words.py), registered once: a second feature claiming a word,
or a filter field, another already owns is refused with both names, so a third-party
feature can never change what ``person:`` means. Parsing needs only the words, not the
features' data: a query is checked the same way by the daemon, by the command line with
no daemon, and by the panel's help (GET /api/vocabulary).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from anagnorisisd.feature import Word
from anagnorisisd.search.query import (
    COMPARE_RE,
    KEY_RE,
    NUMBER_RE,
    Query,
    QueryError,
    Token,
    tokenize,
)

KINDS = ("key", "exact", "compare", "sort")


class VocabularyError(ValueError):
    """Two features claim one word (or one filter field): the second is not loaded."""


@dataclass(frozen=True)
class Owned:
    word: Word
    owner: str


class Vocabulary:
    def __init__(self) -> None:
        self.keys: dict[str, Owned] = {}
        """Key words by name ("person"), and exact ones by their whole text ("has:text")."""
        self.compares: dict[str, Owned] = {}
        self.sorts: dict[str, Owned] = {}
        self.field_owner: dict[str, str] = {}
        """Filter field -> the feature that answers it."""
        self.finishers: list[Callable[[Query, str], None]] = []
        """Checks of the whole query, once every token is read (a score cutoff needs
        something to compare with)."""

    @classmethod
    def of(cls, owners: Iterable[tuple[str, Iterable[Word]]]) -> Vocabulary:
        vocabulary = cls()
        for owner, words in owners:
            vocabulary.add_all(owner, words)
        return vocabulary

    def add_all(self, owner: str, words: Iterable[Word]) -> None:
        """Register a feature's words, all or none."""
        words = list(words)
        for word in words:
            self._check(word, owner)
        for word in words:
            table = self._table(word)
            table[word.name.lower()] = Owned(word, owner)
            for made in word.made:
                self.field_owner[made] = owner

    def _table(self, word: Word) -> dict[str, Owned]:
        if word.kind not in KINDS:
            raise VocabularyError(f"word '{word.name}': kind must be one of {', '.join(KINDS)}")
        return {"key": self.keys, "exact": self.keys, "compare": self.compares,
                "sort": self.sorts}[word.kind]

    def _check(self, word: Word, owner: str) -> None:
        held = self._table(word).get(word.name.lower())
        if held is not None and held.owner != owner:
            raise VocabularyError(f"the query word '{shown(word)}' belongs to {held.owner}; "
                                  f"{owner} cannot claim it too")
        for made in word.made if word.kind != "sort" else ():
            other = self.field_owner.get(made)
            if other is not None and other != owner:
                raise VocabularyError(f"the filter '{made}' is answered by {other}; {owner} "
                                      "cannot answer it too")

    # ------------------------------------------------------------ parsing
    def parse(self, raw: str) -> Query:
        query = Query()
        words: list[str] = []
        for text, position in tokenize(raw):
            if not self._read(query, text, position):
                words.append(text)
        query.text = " ".join(words)
        for finish in self.finishers:
            finish(query, raw)
        return query

    def _read(self, query: Query, text: str, position: int) -> bool:
        """Apply one token; False when it is free text."""
        lower = text.lower()
        negated = lower.startswith("-")
        bare = lower[1:] if negated else lower
        exact = self.keys.get(bare)
        if exact is not None and exact.word.kind == "exact":
            self._apply(query, exact, Token(text, "", ":", position, negated))
            return True
        key = KEY_RE.match(text)
        if key is not None:
            owned = self.keys.get(key["key"].lower())
            if owned is not None and owned.word.kind == "key":
                self._apply(query, owned, Token(text, key["value"], ":", position, negated))
                return True
            fixed = self.exact_values(key["key"].lower())
            if fixed:
                raise QueryError(f"'{text}': {key['key'].lower()}: takes "
                                 f"{' or '.join(fixed)}", text, position)
        compare = COMPARE_RE.match(text)
        if compare is not None:
            owned = self.compares.get(compare["field"].lower())
            if owned is not None:
                self._apply(query, owned, Token(text, compare["value"], compare["op"],
                                                position))
                return True
            if any(op in text for op in (">", "<")):
                raise QueryError(f"'{text}': unknown filter '{compare['field']}' (filters: "
                                 f"{', '.join(sorted(self.compares))})", text, position)
        if lower in self.sorts:
            query.set_sort(lower, Token(text, "", "", position))
            return True
        if negated and len(text) > 1 and not NUMBER_RE.match(text[1:]):
            query.negative.append(text[1:])
            return True
        return False

    @staticmethod
    def _apply(query: Query, owned: Owned, token: Token) -> None:
        if token.negated and not owned.word.negatable:
            raise token.error(f"-{shown(owned.word)} is not a filter")
        if owned.word.parse is None:
            raise token.error(f"{shown(owned.word)} takes no value")
        owned.word.parse(query, token)

    def exact_values(self, key: str) -> list[str]:
        """The fixed values registered under a key ("has" -> ["gps", "text"])."""
        return sorted(name.split(":", 1)[1] for name, owned in self.keys.items()
                      if owned.word.kind == "exact" and name.startswith(key + ":")
                      and name.split(":", 1)[1])

    # ------------------------------------------------------------- listing
    def listing(self) -> list[dict[str, Any]]:
        """Every word, as GET /api/vocabulary lists it: how it is typed, its feature, its
        help line."""
        out = [{"word": shown(o.word), "kind": o.word.kind, "feature": o.owner,
                "help": o.word.help, "negatable": o.word.negatable}
               for table in (self.keys, self.compares, self.sorts) for o in table.values()]
        return sorted(out, key=lambda w: (w["feature"], w["word"]))

    def owner_of_sort(self, mode: str) -> str | None:
        owned = self.sorts.get(mode)
        return owned.owner if owned else None


def shown(word: Word) -> str:
    """How a word is typed: "person:", "has:text", "faces>=", "random"."""
    return {"key": f"{word.name}:", "exact": word.name, "compare": f"{word.name}>=",
            "sort": word.name}[word.kind]
