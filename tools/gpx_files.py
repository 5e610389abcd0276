"""Real GPS tracks for the tests: the GPX files gpxpy ships in its source distribution
(test_files/, tracks recorded in Slovenia and Croatia), taken from the pinned sdist on the
package index. They land in the virtual environment, which git ignores.

Usage: python tools/gpx_files.py DEST_DIR   (fetches what is missing; prints the folder)
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "1.6.2"
WANTED = ("korita-zbevnica.gpx", "cerknicko-jezero.gpx", "cerknicko-without-times.gpx",
          "route.gpx", "unicode_with_bom.gpx")


def fetch(dest: Path) -> Path:
    if all((dest / name).is_file() for name in WANTED):
        return dest
    with tempfile.TemporaryDirectory() as work:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--no-binary", ":all:", f"gpxpy=={VERSION}", "-d", work], check=True)
        archive = next(Path(work).glob("gpxpy-*.tar.gz"))
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                name = member.name.rsplit("/", 1)[-1]
                if member.isfile() and "/test_files/" in member.name and name in WANTED:
                    source = tar.extractfile(member)
                    assert source is not None
                    (dest / name).write_bytes(source.read())
    return dest


if __name__ == "__main__":
    print(fetch(Path(sys.argv[1])))
