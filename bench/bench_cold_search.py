"""A query from the command line with no daemon running: where the time goes, against the
bare minimum the same answer needs.

A demo library (drawn pictures, the shipped model) is made and indexed in a temporary
folder; then each row starts fresh processes, `runs` times, and reports the median:

- the whole command, `anagnorisisd search "…"`, as a person types it;
- the Python start and the command's imports alone (`anagnorisisd --version` imports
  nothing past argparse, so the import row runs the CLI module's import in a new python);
- the limit: a bare Python process that imports numpy, onnxruntime and tokenizers, opens
  the text graph, encodes the query and ranks the stored vectors by brute force.

    python bench/bench_cold_search.py [--count 600] [--runs 5]

With --size N, the library is instead N photos stored as bench_soak makes them (tiny files,
metadata, thumbnails, random vectors) embedded by a random-weight ViT-B/32 at its real size
(bench_clip's export, cached in bench/.cache), its index built by `anagnorisisd index`;
the command is timed reading the store (no catalog file), then with the catalog file that
`index` leaves (search/catalog_file.py), then with the daemon's split query graph
(ml/text_front.py) too, beside the same limit.

    python bench/bench_cold_search.py --size 100000
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

QUERY = "a photo of a red circle"
LIMIT = """
import sys, numpy as np, onnxruntime as ort, lmdb, msgpack
from tokenizers import Tokenizer
model, data = sys.argv[1], sys.argv[2]
tok = Tokenizer.from_file(model + "/textual/tokenizer.json")
ids = np.zeros((1, 24), dtype=np.int32)
enc = tok.encode("a photo of a red circle").ids[:24]
ids[0, :len(enc)] = enc
opts = ort.SessionOptions(); opts.intra_op_num_threads = 1
s = ort.InferenceSession(model + "/textual/model.onnx", opts, providers=["CPUExecutionProvider"])
q = s.run(None, {s.get_inputs()[0].name: ids})[0][0]
env = lmdb.open(data + "/store.lmdb", readonly=True, lock=False, max_dbs=16, subdir=True)
results = env.open_db(b"results")
vecs = []
with env.begin() as txn:
    for key, value in txn.cursor(db=results):
        if key.endswith(b"clip"):
            out = msgpack.unpackb(value)
            vecs.append(np.frombuffer(out["embedding"], dtype=np.float16))
m = np.stack(vecs).astype(np.float32)
order = np.argsort(-(m @ q))[:5]
print(len(vecs), order[:1])
"""


def timed(cmd: list[str], runs: int, cwd: Path,
          before: Callable[[], object] | None = None) -> float:
    """The median wall time of `runs` fresh processes, after one that is not counted. Python
    may write its bytecode, as an installed package has it (pip compiles it at install); an
    environment that forbids it (PYTHONDONTWRITEBYTECODE) would time the compiler too.
    `before` runs before each, untimed."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    times = []
    for _ in range(runs + 1):
        if before is not None:
            before()
        started = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{cmd[:3]} failed:\n{done.stderr[-2000:]}")
    return statistics.median(times[1:])


def at_size(size: int, runs: int) -> None:
    """The ViT-B/32 library of `size` photos: the command, cold, against the limit."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_clip import MODEL as model
    from bench_clip import build_model

    from bench.bench_soak import build

    cli = str(Path(sys.executable).with_name("anagnorisisd"))
    build_model()  # the same random ViT-B/32 export as bench_clip's, cached
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config, _ = build(root, size, model)
        subprocess.run([cli, "index", "--config", str(config)], check=True,
                       capture_output=True)
        data = root / "data"
        catalog = data / "cache" / "catalog.npz"  # `index` wrote it as it stopped
        shutil.rmtree(data / "cache" / "text-front", ignore_errors=True)  # index may have made it
        command = [cli, "search", "red circle", "--config", str(config), "--limit", "5"]
        rows = [("search: store read, whole text graph",
                 timed(command, runs, root, before=lambda: catalog.unlink(missing_ok=True))),
                ("search: catalog file, whole text graph", timed(command, runs, root))]
        from anagnorisisd.ml import text_front  # as the daemon does once per model

        text_front.prepare(data / "models" / model.name / "textual" / "model.onnx",
                           data / "cache" / "text-front")
        rows += [
            ("search: catalog file, split query graph", timed(command, runs, root)),
            ("search text:, no model (catalog file)",
             timed([*command[:2], 'text:"invoice"', *command[3:]], runs, root)),
            ("python + the CLI's imports",
             timed([sys.executable, "-c", "import anagnorisisd.cli.main"], runs, root)),
            ("limit: bare ORT text session + brute force",
             timed([sys.executable, "-c", LIMIT.replace("24", "77"),
                    str(data / "models" / model.name), str(data)], runs, root)),
        ]
    report(f"cold CLI query, {size:,} photos, random ViT-B/32 at real size", rows, runs)


def report(title: str, rows: list[tuple[str, float]], runs: int) -> None:
    print(f"{title}, median of {runs} runs, {os.cpu_count()} cores")
    print(f"{'':44} {'seconds':>8} {'vs limit':>9}")
    limit = rows[-1][1]
    for name, seconds in rows:
        print(f"{name:44} {seconds:8.2f} {seconds / limit:8.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=600)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size", type=int, default=0,
                        help="a stored library of this many photos with ViT-B/32 instead")
    args = parser.parse_args()
    if args.size:
        at_size(args.size, args.runs)
        return
    cli = str(Path(sys.executable).with_name("anagnorisisd"))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run([cli, "demo", str(root / "demo"), "--count", str(args.count)],
                       check=True, capture_output=True)
        config = str(root / "demo" / "config.toml")
        subprocess.run([cli, "index", "--config", config], check=True, capture_output=True)
        model = root / "demo" / "data" / "models" / "shapes-clip-mini"
        if not model.exists():
            from anagnorisisd.ml.manager import shipped_model_dir
            model = shipped_model_dir("shapes-clip-mini")
        rows = [
            ("anagnorisisd search (whole command)",
             timed([cli, "search", QUERY, "--config", config, "--limit", "5"], args.runs, root)),
            ("python + the CLI's imports",
             timed([sys.executable, "-c", "import anagnorisisd.cli.main"], args.runs, root)),
            ("limit: bare ORT text session + brute force",
             timed([sys.executable, "-c", LIMIT, str(model), str(root / "demo" / "data")],
                   args.runs, root)),
        ]
    report(f"cold CLI query, {args.count} images", rows, args.runs)


if __name__ == "__main__":
    main()
