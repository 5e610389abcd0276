"""Load and soak: 50 loopback clients for 60 s against a daemon serving 100,000 images while
it rebuilds its vector index. Reports requests, errors, latency percentiles and RSS.

The library is made directly in a store (tiny files on disk, metadata, thumbnails and
random unit embeddings under the shipped small model's identity), so the run measures
the server, not the indexing. The limit beside it: the cheapest route (the static
OpenAPI document, through the same middleware) timed in the same run.

    python bench/bench_soak.py [--images 100000] [--seconds 60] [--clients 50] [--log FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from anagnorisisd.builtin.meta_stage import MetaStage  # noqa: E402

from anagnorisisd.ml.clip import ClipModel  # noqa: E402
from anagnorisisd.ml.layout import ModelFiles  # noqa: E402
from anagnorisisd.ml.manager import shipped_model_dir  # noqa: E402
from anagnorisisd.ml.session import SessionSettings  # noqa: E402
from anagnorisisd.store.database import Store  # noqa: E402
from tests.helpers import free_port, wait_until, write_config  # noqa: E402

MINI = shipped_model_dir("shapes-clip-mini")
SAID: dict[str, str] = {}
"""Each error's first answer: what it said."""
WHEN: dict[str, list[float]] = {}
"""Each error's first and last moment (perf_counter): when in the run they came."""
TIMELINE: list[tuple[float, float]] = []
"""(start, ms) of every request (perf_counter): when in the run the slow ones came."""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def build(root: Path, n: int, model_dir: Path = MINI) -> tuple[Path, list[str]]:
    """A library of n tiny files, stored as if described, embedded by `model_dir`'s model
    (random vectors under its identity)."""
    library, data = root / "library", root / "data"
    shutil.copytree(model_dir, data / "models" / model_dir.name)
    model = ClipModel(ModelFiles(model_dir.name, data / "models" / model_dir.name),
                      SessionSettings())
    dim = model.embed_dim
    rng = np.random.default_rng(0)
    thumb = (REPO / "web_ui" / "index.html").read_bytes()[:2048]  # bytes are bytes to serve
    store = Store(data)
    ids: list[str] = []
    started = time.monotonic()
    for start in range(0, n, 5000):
        with store.write() as w:
            for i in range(start, min(n, start + 5000)):
                folder = library / f"f{i // 1000}"
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"{i}.jpg"
                path.write_bytes(i.to_bytes(8, "little") * 64)
                st = path.stat()
                content = (i.to_bytes(8, "little") * 4)
                w.seen(str(path), st.st_size, st.st_mtime_ns, ())  # no sidecars, as scanned
                rec = w.file(str(path))
                assert rec is not None
                w.set_hash(str(path), rec.gen, content, st.st_size, st.st_mtime_ns)
                w.put_result(content, "meta", MetaStage.version, {
                    "format": "jpeg", "width": 640 + i % 97, "height": 480,
                    "file_size": st.st_size, "taken_at": None, "frames": 1})
                w.put_result(content, "thumbnail", "1:320:jpeg:85",
                             {"mime": "image/jpeg", "data": thumb, "width": 320, "height": 240})
                vector = rng.normal(size=dim).astype(np.float32)
                vector /= np.linalg.norm(vector)
                w.put_result(content, "clip", f"2:{model.identity}",
                             {"model": model.identity, "dim": dim,
                              "embedding": vector.astype(np.float16).tobytes()})
                w.finish(str(path), rec.gen, None)
                ids.append(content.hex())
    store.close()
    print(f"made {n:,} images in {time.monotonic() - started:.0f}s", file=sys.stderr)
    config = write_config(root / "config.toml", {
        "library": {"paths": [str(library)]}, "storage": {"data_dir": str(data)},
        "server": {"port": free_port()},
        "model": {"name": model_dir.name, "auto_pull": False},
        "scheduler": {"rescan_interval_s": 86400},
        "index": {"check_interval_s": 1, "min_rebuild_interval_s": 0},
        # the stages whose results the store holds at their current versions: the
        # pipeline has nothing to do, so the run measures the server and the rebuild
        "pipeline": {"stages": ["hash", "meta", "thumbnail", "clip"]},
    })
    return config, ids


async def client(session: aiohttp.ClientSession, base: str, ids: list[str], until: float,
                 seed: int, lat: dict[str, list[float]], errors: dict[str, int]) -> None:
    rng = random.Random(seed)
    while time.monotonic() < until:
        image = rng.choice(ids)
        kind, method, url, body = rng.choice([
            ("list", "GET", f"/api/images?page={rng.randrange(1, 200)}&per_page=60", None),
            ("text", "GET", "/api/images?q=red+circle+width>=650", None),
            ("sort", "GET", "/api/images?q=resolution&page=3", None),
            ("image", "GET", f"/api/images/{image}", None),
            ("thumb", "GET", f"/api/images/{image}/thumbnail", None),
            ("file", "GET", f"/api/images/{image}/file", None),
            ("status", "GET", "/api/status", None),
            ("rate", "PUT", f"/api/images/{image}/rating", {"rating": rng.randrange(11)}),
            ("static", "GET", "/api/openapi.json", None),
        ])
        t0 = time.perf_counter()
        try:
            async with session.request(method, base + url, json=body) as response:
                said = await response.read()
                if response.status >= 400:
                    SAID.setdefault(f"{kind} {response.status}", said[:200].decode(
                        errors="replace"))
                    errors[f"{kind} {response.status}"] = errors.get(
                        f"{kind} {response.status}", 0) + 1
                    seen = WHEN.setdefault(f"{kind} {response.status}", [t0, t0])
                    seen[1] = t0
        except (aiohttp.ClientError, TimeoutError) as exc:
            errors[f"{kind} {type(exc).__name__}"] = errors.get(
                f"{kind} {type(exc).__name__}", 0) + 1
        lat.setdefault(kind, []).append((time.perf_counter() - t0) * 1000)
        TIMELINE.append((t0, lat[kind][-1]))


async def load(base: str, ids: list[str], seconds: float, clients: int
               ) -> tuple[dict[str, list[float]], dict[str, int]]:
    lat: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    until = time.monotonic() + seconds
    WHEN["start"] = [time.perf_counter()] * 2
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(client(session, base, ids, until, s, lat, errors)
                               for s in range(clients)))
    return lat, errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--log", type=Path, help="copy the daemon's log here (what it did when)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        config, ids = build(Path(tmp), args.images)
        import tomllib

        port = tomllib.loads(config.read_text())["server"]["port"]
        log = (Path(tmp) / "daemon.log").open("wb")
        proc = subprocess.Popen([sys.executable, "-m", "anagnorisisd", "serve", "--config",
                                 str(config)], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            import urllib.request

            def up() -> bool:  # loaded: until then the catalog's routes answer 503
                import json as _json

                try:
                    with urllib.request.urlopen(base + "/api/status", timeout=5) as r:
                        return bool(_json.loads(r.read()).get("loaded"))
                except OSError:
                    return False

            wait_until(up, timeout=120, interval=0.5)
            rss_start = rss_mb(proc.pid)
            print(f"load from {time.strftime('%H:%M:%S')}", file=sys.stderr)
            lat, errors = asyncio.run(load(base, ids, args.seconds, args.clients))
            rss_end = rss_mb(proc.pid)
            status = urllib.request.urlopen(base + "/api/status", timeout=30).read()
        finally:
            proc.terminate()
            proc.wait(30)
            if args.log:
                shutil.copy(Path(tmp) / "daemon.log", args.log)
        import json

        index = json.loads(status)["index"]
        total = sum(len(v) for v in lat.values())
        print(f"### Soak: `python bench/bench_soak.py` ({args.images:,} images, "
              f"{args.clients} clients, {args.seconds:.0f} s, index rebuilt during the run: "
              f"{'yes' if index.get('last_build_s') else 'no'}, "
              f"{index.get('last_build_s')} s)\n")
        print("| request | count | p50 ms | p95 ms | p99 ms | max ms |")
        print("|---|---:|---:|---:|---:|---:|")
        for kind in sorted(lat, key=lambda k: -len(lat[k])):
            v = np.asarray(lat[kind])
            print(f"| {kind} | {len(v):,} | {np.percentile(v, 50):.1f} | "
                  f"{np.percentile(v, 95):.1f} | {np.percentile(v, 99):.1f} | {v.max():.0f} |")
        print(f"\n{total:,} requests ({total / args.seconds:,.0f}/s), "
              f"{sum(errors.values())} errors {dict(errors) or ''}; "
              f"RSS {rss_start:,.0f} MB at the start, {rss_end:,.0f} MB at the end. "
              "'static' (the OpenAPI document) is the floor: middleware and HTTP alone.")
        start = WHEN["start"][0]
        print("\n| seconds into the run | requests | p50 ms | p99 ms | max ms | over 1 s |")
        print("|---|---:|---:|---:|---:|---:|")
        window = args.seconds / 6
        for w in range(6):
            ms = np.asarray([m for t, m in TIMELINE if w <= (t - start) / window < w + 1])
            if len(ms):
                print(f"| {w * window:.0f}-{(w + 1) * window:.0f} | {len(ms):,} | "
                      f"{np.percentile(ms, 50):.0f} | {np.percentile(ms, 99):.0f} | "
                      f"{ms.max():.0f} | {int((ms > 1000).sum())} |")
        print()
        WHEN.pop("start")
        for kind, (first, last) in WHEN.items():
            print(f"{kind}: from {first - start:.1f} s to {last - start:.1f} s into the run; "
                  f"the first said {SAID.get(kind)}")


if __name__ == "__main__":
    main()
