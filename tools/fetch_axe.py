"""Fetch axe-core (the accessibility rules the browser tests run in the page) from the npm
registry, pinned by version and checked against the registry's sha512 integrity, without
needing node: one tarball, one file out of it, into the virtual environment (ignored by git).

Usage: python tools/fetch_axe.py DEST_DIR   (prints the path of axe.min.js)
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

VERSION = "4.14.1"
URL = f"https://registry.npmjs.org/axe-core/-/axe-core-{VERSION}.tgz"
INTEGRITY = ("sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuF"
             "ooJpZe37OgudVGtQ==")


def fetch(dest: Path) -> Path:
    target = dest / f"axe-core-{VERSION}.min.js"
    if target.exists():
        return target
    with urllib.request.urlopen(URL, timeout=60) as response:
        data = response.read()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != INTEGRITY:
        raise SystemExit(f"axe-core {VERSION}: the tarball does not match its pinned integrity")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        member = archive.extractfile("package/axe.min.js")
        if member is None:
            raise SystemExit(f"axe-core {VERSION}: no package/axe.min.js in the tarball")
        dest.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(member.read())
        tmp.replace(target)
    return target


if __name__ == "__main__":
    print(fetch(Path(sys.argv[1] if len(sys.argv) > 1 else ".venv/axe")))
