"""Write a small store with the current release, for the migration tests of later releases.

Run once per schema version, before that version changes:

    python tools/make_store_fixture.py tests/fixtures/stores/schema-N

The test suite then opens the folder with the current code and checks that every
file, result and rating (with its history) arrived intact. The folder is never
rewritten afterwards: it is what that release wrote.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from anagnorisisd.store.database import SCHEMA_VERSION, Store


def main(target: Path) -> None:
    if target.exists():
        shutil.rmtree(target)
    store = Store(target, map_size_gb=1)
    expected: dict[str, object] = {"schema": SCHEMA_VERSION, "files": {}, "ratings": {}}
    with store.write() as w:
        for i in range(6):
            path = f"/photos/album/{i}.jpg"
            content = bytes([i]) * 32
            w.seen(path, 1000 + i, 1_700_000_000_000_000_000 + i)
            rec = w.file(path)
            assert rec is not None
            w.set_hash(path, rec.gen, content, 1000 + i, 1_700_000_000_000_000_000 + i)
            w.put_result(content, "meta", "1", {"format": "jpeg", "width": 640 + i,
                                                "height": 480, "file_size": 1000 + i,
                                                "taken_at": None, "frames": 1})
            w.finish(path, rec.gen, None)
            expected["files"][path] = content.hex()  # type: ignore[index]
        for i, value in enumerate((7.0, 3.0, 10.0)):
            content = bytes([i]) * 32
            w.set_rating(content, value - 1, 1_700_000_000.0 + i)
            w.set_rating(content, value, 1_700_000_100.0 + i)
            expected["ratings"][content.hex()] = value  # type: ignore[index]
        # A rating of content no longer in the library: user data is never dropped.
        w.set_rating(b"\xee" * 32, 5.0, 1_700_000_200.0)
        expected["ratings"][(b"\xee" * 32).hex()] = 5.0  # type: ignore[index]
        w.set_setting("library.paths", ["/photos"])
        # Files still queued, seen at different times: a later schema may order its queue.
        expected["queued"] = []
        for i, mtime_s in enumerate((1_600_000_000, 1_700_000_500, 1_650_000_000)):
            path = f"/photos/new/{i}.jpg"
            w.seen(path, 2000 + i, mtime_s * 1_000_000_000)
            expected["queued"].append(path)  # type: ignore[attr-defined]
    store.close()
    (target / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    print(f"wrote a schema-{SCHEMA_VERSION} store to {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
