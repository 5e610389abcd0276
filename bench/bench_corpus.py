"""Pillow's own test corpus as a library: hundreds of odd, broken and hostile image files.

Fetches the Pillow sdist from PyPI once (into bench/.cache), takes its Tests/images,
then measures, in one run:

- peak memory of `anagnorisisd index` over the corpus (hash, meta, thumbnail, clip with
  the shipped small model), against a bare loop that only opens and fully decodes each
  file with Pillow, one at a time (the nearest limit: no budget, no pipeline);
- what became of each file (indexed, failed with which kind of reason, skipped);
- every file uploaded to POST /api/search/by-image on a serving daemon: answers by status,
  and any 500 (there must be none).

    python bench/bench_corpus.py
"""

from __future__ import annotations

import collections
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from anagnorisisd.ml.manager import shipped_model_dir  # noqa: E402
from tests.helpers import Daemon, free_port, write_config  # noqa: E402

CACHE = REPO / "bench" / ".cache"
MINI = shipped_model_dir("shapes-clip-mini")
BARE = """
import sys
from PIL import Image
for path in sys.argv[1:]:
    try:
        with Image.open(path) as img:
            img.load()
    except Exception:
        pass
"""


def corpus() -> Path:
    target = CACHE / "pillow-corpus"
    if target.is_dir():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    import PIL

    subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:",
                    "--no-deps", "-q", "-d", str(CACHE), f"pillow=={PIL.__version__}"],
                   check=True)
    sdist = next(CACHE.glob("pillow-*.tar.gz"))
    staging = CACHE / "staging"
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if "/Tests/images/" in m.name and m.isfile()]
        tar.extractall(staging, members=members, filter="data")
    shutil.move(str(next(staging.glob("*/Tests/images"))), target)
    shutil.rmtree(staging)
    return target


WRAPPER = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code)
"""


def child_peak_mb(command: list[str], cwd: Path) -> tuple[float, float, int]:
    """Run a command in a fresh wrapper process, so that the peak RSS (MB) reported is that
    command's alone (RUSAGE_CHILDREN is the maximum over every child a process ever had)."""
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", WRAPPER, *command], cwd=cwd,
                         capture_output=True, text=True, timeout=1800, check=True).stdout
    peak_kb, code = out.split()
    return int(peak_kb) / 1024, time.monotonic() - started, int(code)


def main() -> None:
    images = corpus()
    files = sorted(p for p in images.rglob("*") if p.is_file())
    suffixes = sorted({p.suffix.lower() for p in files if p.suffix})
    with tempfile.TemporaryDirectory(prefix="corpus-") as tmp:
        root = Path(tmp)
        library = root / "library"
        shutil.copytree(images, library, symlinks=True)
        shutil.copytree(MINI, root / "data" / "models" / MINI.name)
        config = write_config(root / "config.toml", {
            "library": {"paths": [str(library)], "extensions": suffixes},
            "storage": {"data_dir": str(root / "data")}, "server": {"port": free_port()},
            "model": {"name": MINI.name, "auto_pull": False},
        })
        # The bare loop first, in its own process, so its peak is its own.
        bare_peak, bare_s, _ = child_peak_mb(
            [sys.executable, "-c", BARE, *map(str, files)], REPO)
        index_peak, index_s, code = child_peak_mb(
            [sys.executable, "-m", "anagnorisisd", "index", "--config", str(config)], REPO)
        status = json.loads(subprocess.run(
            [sys.executable, "-m", "anagnorisisd", "status", "--json", "--config", str(config)],
            cwd=REPO, capture_output=True, text=True, timeout=300).stdout)
        port = tomllib.loads(config.read_text())["server"]["port"]
        daemon = Daemon(config, port)
        try:
            failures = daemon.request("GET", "/api/failures")["items"]
            answers: collections.Counter[int] = collections.Counter()
            server_errors: list[str] = []
            for path in files:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/search/by-image?per_page=5",
                    data=path.read_bytes(), method="POST",
                    headers={"Content-Type": "application/octet-stream"})
                try:
                    with urllib.request.urlopen(request, timeout=120) as response:
                        answers[response.status] += 1
                except urllib.error.HTTPError as exc:
                    answers[exc.code] += 1
                    if exc.code >= 500:
                        server_errors.append(f"{path.name}: {exc.read()[:200]!r}")
        finally:
            daemon.kill()
    kinds = collections.Counter(f["reason"].split(":")[0][:60] for f in failures)
    print(f"### Pillow's test corpus: `python bench/bench_corpus.py` ({len(files):,} files, "
          f"{len(suffixes)} suffixes, Pillow's Tests/images)\n")
    print("| what | peak RSS MB | seconds | note |")
    print("|---|---:|---:|---|")
    print(f"| bare loop: Image.open + load, one file at a time, Pillow's default limits | "
          f"{bare_peak:,.0f} | {bare_s:.1f} | |")
    print(f"| anagnorisisd index (hash, meta, thumbnail, clip) | {index_peak:,.0f} | "
          f"{index_s:.1f} | exit {code}; {status['files']['done']:,} indexed, "
          f"{status['files']['failed']:,} failed |")
    print(f"\nPOST /api/search/by-image with every file: "
          f"{', '.join(f'{n:,} x {s}' for s, n in sorted(answers.items()))}; "
          f"server errors: {len(server_errors)}")
    for line in server_errors[:10]:
        print(f"- {line}")
    print("\nMost common failure reasons:\n")
    for reason, n in kinds.most_common(12):
        print(f"- {n:,} x {reason}")


if __name__ == "__main__":
    main()
