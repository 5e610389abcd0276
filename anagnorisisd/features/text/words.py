"""The words read in the photos, in a full-text index: SQLite's FTS5, from the standard
library (no server, no extra package, BM25 ranking, phrase and prefix queries built in).

Like the vector index, it is derived from the store and never the only copy of anything:
`sync()` (at start, in the background) makes it agree with the text stage's stored outputs
(rows added, changed or dropped by a digest of each photo's text), and every new output is
put as it is committed. Deleting the file rebuilds it. Photos that left the library are
filtered out by the catalog at query time and dropped at the next sync.

Matching is case- and accent-insensitive (unicode61 with diacritics removed) and tolerant
of OCR's usual slips: indexed text and queries are both folded the same way (`fold`), so
0/O, 1/l/I/i/|, 5/S, "rn"/"m" and "vv"/"w" are one letter to a query. A phrase matches
its words in order, side by side; the last word of a phrase also matches as a prefix.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from anagnorisisd.store.database import Store

log = logging.getLogger(__name__)
SCHEMA = 2
COMMON, COMMON_AT_LEAST = 0.2, 100
"""A free-text word in more than this share of the photos with text (and in more than 100
of them) picks none out: such words are left out of the words' ranking, and a query of
only such words ranks by meaning alone."""
FOLDS = str.maketrans({"0": "o", "1": "l", "i": "l", "|": "l", "5": "s"})
PAIRS = (("rn", "m"), ("vv", "w"))
WORD_RE = re.compile(r"\w+")
MAX_QUERY_WORDS = 32


def fold(text: str) -> str:
    """Lower case, accents off, then OCR's confusable letters made one. Linear in the text."""
    if text.isascii():  # most text: no accents to take off
        plain = text.lower()
    else:
        plain = "".join(c for c in unicodedata.normalize("NFKD", text)
                        if not unicodedata.combining(c)).lower()
    plain = plain.translate(FOLDS)
    for pair, one in PAIRS:
        plain = plain.replace(pair, one)
    return plain


def words(text: str) -> list[str]:
    return WORD_RE.findall(fold(text))[:MAX_QUERY_WORDS]


def phrase_query(text: str, prefix: bool = True) -> str | None:
    """An FTS5 phrase for `text` (its words in order; the last one also as a prefix), or
    None when it holds no word. Words are quoted, so nothing typed is FTS5 syntax."""
    found = words(text)
    if not found:
        return None
    return '"' + " ".join(found) + '"' + (" *" if prefix else "")


class WordIndex:
    """One SQLite file beside the vector index; one connection, under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.with_text: set[bytes] = set()
        """Photos with at least one line read: what has:text answers from."""
        self._content_of: dict[int, bytes] = {}
        self._doc_of: dict[bytes, int] = {}
        self.version = 0
        """Changes with every row put or dropped (what `rows_in` caches against)."""
        self._rows: tuple[Any, int, NDArray[np.intp], NDArray[np.intp]] | None = None
        self.synced = False
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version != SCHEMA:  # another layout (or none): derived data, so start again
            db.execute("DROP TABLE IF EXISTS docs")
            db.execute("DROP TABLE IF EXISTS lines")
            db.execute("DROP TABLE IF EXISTS vocab")
            db.execute("CREATE TABLE docs (id INTEGER PRIMARY KEY, content BLOB UNIQUE NOT "
                       "NULL, digest BLOB NOT NULL, text TEXT NOT NULL)")
            db.execute("CREATE VIRTUAL TABLE lines USING fts5(folded, "
                       "tokenize = 'unicode61 remove_diacritics 2')")
            db.execute("CREATE VIRTUAL TABLE vocab USING fts5vocab(lines, 'row')")
            db.execute(f"PRAGMA user_version={SCHEMA}")
        for doc, content, text in db.execute("SELECT id, content, text != '' FROM docs"):
            self._remember(int(doc), bytes(content), bool(text))
        return db

    def _remember(self, doc: int, content: bytes, has_text: bool) -> None:
        self._content_of[doc] = content
        self._doc_of[content] = doc
        if has_text:
            self.with_text.add(content)
        self.version += 1

    def _forget(self, doc: int, content: bytes) -> None:
        self._content_of.pop(doc, None)
        self._doc_of.pop(content, None)
        self.with_text.discard(content)
        self.version += 1

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # ----------------------------------------------------------------- writing
    def put(self, content: bytes, output: dict[str, Any] | None) -> None:
        """Index one photo's text stage output (None: it has none any more)."""
        self.put_many([(content, output)])

    def put_many(self, items: Iterable[tuple[bytes, dict[str, Any] | None]]) -> int:
        changed = 0
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for content, output in items:
                    changed += self._put(content, output)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return changed

    def _put(self, content: bytes, output: dict[str, Any] | None) -> int:
        text = text_of(output)
        digest = hashlib.blake2b(text.encode(), digest_size=16).digest()
        row = self._db.execute("SELECT id, digest FROM docs WHERE content = ?",
                               (content,)).fetchone()
        if row is not None and bytes(row[1]) == digest and output is not None:
            return 0
        if row is not None:
            self._db.execute("DELETE FROM lines WHERE rowid = ?", (row[0],))
            self._db.execute("DELETE FROM docs WHERE id = ?", (row[0],))
            self._forget(int(row[0]), content)
        if output is None:
            return 1
        cur = self._db.execute("INSERT INTO docs (content, digest, text) VALUES (?, ?, ?)",
                               (content, digest, text))
        doc = int(cur.lastrowid or 0)
        if text:
            self._db.execute("INSERT INTO lines (rowid, folded) VALUES (?, ?)",
                             (doc, fold(text)))
        self._remember(doc, content, bool(text))
        return 1

    def sync(self, outputs: Iterable[tuple[bytes, dict[str, Any]]]) -> int:
        """Agree with the store: `outputs` is every stored text output. Returns the rows
        changed."""
        seen: set[bytes] = set()

        def marked() -> Iterable[tuple[bytes, dict[str, Any] | None]]:
            for content, output in outputs:
                seen.add(content)
                yield content, output

        changed = self.put_many(marked())
        with self._lock:
            stale = [bytes(c) for (c,) in self._db.execute("SELECT content FROM docs")
                     if bytes(c) not in seen]
        changed += self.put_many((c, None) for c in stale)
        self.synced = True
        return changed

    # ----------------------------------------------------------------- reading
    def matching(self, match: str) -> NDArray[np.int64]:
        """The rows (document ids) whose words match an FTS5 expression, in no order: what
        a text: filter needs, without ranking or a join."""
        with self._lock:
            rows = self._db.execute("SELECT rowid FROM lines WHERE lines MATCH ?",
                                    (match,)).fetchall()
        return np.fromiter((r for (r,) in rows), dtype=np.int64, count=len(rows))

    def ranked(self, text: str, limit: int) -> list[bytes]:
        """The `limit` photos whose words best match a free text (every word, the last also
        as a prefix), best first by BM25; words too common to pick a photo out are left
        out, and a text of only such words matches nothing."""
        found = words(text)
        with self._lock:
            most = max(COMMON_AT_LEAST, COMMON * len(self.with_text))
            rare = [w for w in found[:-1] if (self._frequency(w) or 0) <= most]
            if found and (self._frequency(found[-1]) or 0) <= most:
                rare.append(found[-1] + "*")
            if not rare:
                return []
            match = " AND ".join(f'"{w.rstrip("*")}"' + (" *" if w.endswith("*") else "")
                                 for w in rare)
            rows = self._db.execute("SELECT rowid FROM lines WHERE lines MATCH ? ORDER BY "
                                    "rank LIMIT ?", (match, limit)).fetchall()
        return [c for (r,) in rows if (c := self._content_of.get(int(r))) is not None]

    def _frequency(self, word: str) -> int | None:
        row = self._db.execute("SELECT doc FROM vocab WHERE term = ?", (word,)).fetchone()
        return int(row[0]) if row else None

    def rows_in(self, columns: Any) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """For a catalog's columns: document id -> row (-1 where not in it), and the rows
        of the photos with text. Made once per columns object and word index version (the
        cache holds the columns, so no other object can take its identity meanwhile)."""
        cached = self._rows
        if cached is not None and cached[0] is columns and cached[1] == self.version:
            return cached[2], cached[3]
        with self._lock:
            docs = list(self._content_of.items())
            texted = [self._doc_of[c] for c in self.with_text]
            version = self.version
        rows = np.full(max((d for d, _ in docs), default=0) + 1, -1, dtype=np.intp)
        for doc, content in docs:
            rows[doc] = columns.position.get(content, -1)
        with_text = rows[np.asarray(texted, dtype=np.intp)] if texted else rows[:0]
        self._rows = (columns, version, rows, with_text[with_text >= 0])
        return rows, self._rows[3]

    def text(self, content: bytes) -> str:
        with self._lock:
            row = self._db.execute("SELECT text FROM docs WHERE content = ?",
                                   (content,)).fetchone()
        return str(row[0]) if row else ""

    def matched_lines(self, contents: list[bytes], query_text: str,
                      most: int = 2) -> dict[bytes, list[str]]:
        """For each photo, its lines that hold a word of the query (or a word it begins):
        what a result shows under it. One query for the whole page."""
        wanted = set(words(query_text))
        if not wanted or not contents:
            return {}
        marks = ",".join("?" * len(contents))
        with self._lock:
            rows = self._db.execute(
                f"SELECT docs.content, docs.text, lines.folded FROM docs JOIN lines ON "
                f"lines.rowid = docs.id WHERE docs.content IN ({marks})", contents).fetchall()
        out: dict[bytes, list[str]] = {}
        for content, text, folded in rows:
            found = []
            for line, folded_line in zip(text.split("\n"), folded.split("\n"), strict=False):
                tokens = WORD_RE.findall(folded_line)
                if any(t.startswith(w) for w in wanted for t in tokens):
                    found.append(line)
                    if len(found) >= most:
                        break
            if found:
                out[bytes(content)] = found
        return out

    def status(self) -> dict[str, Any]:
        return {"photos_with_text": len(self.with_text), "synced": self.synced}


def stored_text(store: Store, stage: str) -> Iterator[tuple[bytes, dict[str, Any]]]:
    """Every live photo's stored text output: what `sync` agrees with."""
    for content in store.live_hashes():
        output = store.get_result(content, stage)
        if output is not None:
            yield content, output


def text_of(output: dict[str, Any] | None) -> str:
    lines = (output or {}).get("lines") or []
    return "\n".join(str(line.get("text", "")) for line in lines if isinstance(line, dict))
