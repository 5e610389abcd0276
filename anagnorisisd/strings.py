"""Text from outside (a worker's answer, a file's EXIF, a sidecar) made safe to keep.

Valid JSON can carry a lone surrogate ("\\ud800"), and so can a string a decoder made from
bad bytes: such a string cannot be encoded as UTF-8, so the store, the word index and every
JSON answer would refuse it, far from where it came in. Each place that takes text from
outside passes it through here once.
"""

from __future__ import annotations

import re

SURROGATE = re.compile("[\ud800-\udfff]")
NOT_IN_NAMES = (r"\u0000-\u001f\u007f-\u009f\u2028\u2029"
                r"\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069")
"""What no name may hold, as the inside of a regex character class that Python and the
OpenAPI document's JSON Schema read alike: control characters, line and paragraph
separators, and the characters that reorder what follows them on screen (U+202E turns
"gpj.exe" round: a way to make one name look like another). Lone surrogates are refused
too (FORBIDDEN), but a JSON Schema regex cannot name them."""
FORBIDDEN = re.compile(f"[{NOT_IN_NAMES}\ud800-\udfff]")


def name_pattern(forbidden: str = "") -> str:
    """The JSON Schema pattern of a valid name: at least one character that is not white
    space, none of NOT_IN_NAMES nor `forbidden` (name_problem's rule, for the document)."""
    banned = NOT_IN_NAMES + re.escape(forbidden)
    return f"^[^{banned}]*[^\\s{banned}][^{banned}]*$"


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
    if FORBIDDEN.search(name):
        return (f"a {what}'s name cannot hold control characters or characters that "
                "reorder text")
    bad = sorted({c for c in name if c in forbidden})
    if bad:
        return f"a {what}'s name cannot hold {' or '.join(bad)}"
    return None
