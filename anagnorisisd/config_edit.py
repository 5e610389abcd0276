"""One key of config.toml changed in place, the rest of the file (comments, order, other
keys) kept as the person wrote it: what `model import --activate` does to `[model] name`.

The new text is parsed and loaded as a whole before it replaces the old, in one rename, so
a change the daemon would refuse is never written.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path


class ConfigEditError(ValueError):
    """The file could not be changed (what the person is told)."""


def set_string(path: Path, section: str, key: str, value: str) -> None:
    """`[section] key = "value"`: the key's line replaced where it is, else added under the
    section's header, else a new section at the end."""
    from anagnorisisd.config import ConfigError, load_config

    text = path.read_text(encoding="utf-8")
    line = f"{key} = {json.dumps(value)}"
    lines = text.splitlines()
    header = next((i for i, raw in enumerate(lines) if raw.strip() == f"[{section}]"), None)
    if header is None:
        lines += ["", f"[{section}]", line]
    else:
        end = next((i for i in range(header + 1, len(lines))
                    if lines[i].lstrip().startswith("[")), len(lines))
        pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
        found = next((i for i in range(header + 1, end) if pattern.match(lines[i])), None)
        if found is None:
            lines.insert(header + 1, line)
        else:
            lines[found] = line
    changed = "\n".join(lines) + "\n"
    handle, staged = tempfile.mkstemp(prefix=".config.", suffix=".toml", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(changed)
        try:
            load_config(staged)
        except ConfigError as exc:
            raise ConfigEditError(f"{path} would not load with {line}: {exc}") from None
        os.replace(staged, path)
    finally:
        if os.path.exists(staged):
            os.unlink(staged)
