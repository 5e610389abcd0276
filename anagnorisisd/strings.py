"""Text from outside (a worker's answer, a file's EXIF, a sidecar) made safe to keep.

Valid JSON can carry a lone surrogate ("\\ud800"), and so can a string a decoder made from
bad bytes: such a string cannot be encoded as UTF-8, so the store, the word index and every
JSON answer would refuse it, far from where it came in. Each place that takes text from
outside passes it through here once.
"""

from __future__ import annotations

import re

SURROGATE = re.compile("[\ud800-\udfff]")
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
"""Characters that reorder what follows them on screen (U+202E turns "gpj.exe" round):
never wanted in a name a person types, and a way to make one name look like another."""


MAX_NAME = 200


def scrub(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD; the very same string (no copy)
    when it has none, which is nearly always."""
    if text.isascii():
        return text
    return SURROGATE.sub("\ufffd", text)


def name_problem(name: str, what: str, forbidden: str = "") -> str | None:
    """Why `name` cannot name a person, a concept or an album, or None: the one rule for
    every name a person gives. Empty, over MAX_NAME characters, control or bidi characters,
    lone surrogates, or one of `forbidden` (characters the feature's format reserves)."""
    if not name.strip():
        return f"a {what} needs a name"
    if len(name) > MAX_NAME:
        return f"a {what}'s name has at most {MAX_NAME} characters"
    if any(not c.isprintable() for c in name) or BIDI_CONTROLS.search(name) \
            or SURROGATE.search(name):
        return (f"a {what}'s name cannot hold control characters or characters that "
                "reorder text")
    bad = sorted({c for c in name if c in forbidden})
    if bad:
        return f"a {what}'s name cannot hold {' or '.join(bad)}"
    return None
