"""`rate`, `ratings export|import` and `train`: through the daemon when it runs, else the store.

Going through a running daemon keeps its in-memory catalog current; without
one, the same changes go straight into the store in one transaction.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from anagnorisisd.app.library import LIBRARY_SETTING
from anagnorisisd.cli import client
from anagnorisisd.cli.progress import ProgressBar, plural
from anagnorisisd.config import Config, load_config
from anagnorisisd.features.sidecars.sync import SidecarSync, write_everything
from anagnorisisd.ingest.safe_io import inside, real_roots
from anagnorisisd.ingest.scanner import normalise_root
from anagnorisisd.store.database import Store
from anagnorisisd.store.instance import InstanceLock


def reading_store(config: Config) -> Store:
    """The store opened read-only: reading never changes it, even beside a daemon."""
    return Store(config.data_dir, config.storage.map_size_gb, readonly=True)

EXIT_USAGE = 2


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    rate = sub.add_parser("rate", parents=[common], help="rate an image 0-10 by its path")
    rate.add_argument("path", metavar="PATH")
    rate.add_argument("value", metavar="VALUE", help="0 to 10, or 'none' to clear")
    rate.set_defaults(func=cmd_rate)

    ratings = sub.add_parser("ratings", help="export or import all ratings")
    actions = ratings.add_subparsers(dest="ratings_command", required=True, metavar="ACTION")
    export = actions.add_parser("export", parents=[common],
                                help="write ratings to CSV or JSONL, or to XMP sidecars")
    export.add_argument("file", metavar="FILE", type=Path, nargs="?",
                        help="*.csv or *.jsonl ('-': stdout)")
    export.add_argument("--format", choices=["csv", "jsonl"])
    export.add_argument("--xmp", action="store_true",
                        help="write xmp:Rating into each rated photo's XMP sidecar instead")
    export.set_defaults(func=cmd_export)
    imp = actions.add_parser("import", parents=[common], help="read ratings, matched by content")
    imp.add_argument("file", metavar="FILE", type=Path)
    imp.add_argument("--format", choices=["csv", "jsonl"])
    imp.set_defaults(func=cmd_import)

    train = sub.add_parser("train", parents=[common], help="train the personal evaluator")
    train.set_defaults(func=cmd_train)


# ------------------------------------------------------------------ helpers
def api(config: Config, method: str, path: str, body: Any = None) -> Any:
    """Call the running daemon; None when none answers; its error ends the command."""
    try:
        return client.call(config, method, path, body)
    except client.DaemonError as exc:
        raise SystemExit(f"anagnorisisd: {exc}") from None


def rating_value(raw: Any) -> float | None:
    if isinstance(raw, str):
        if raw.strip().lower() in ("none", "null", ""):
            return None
        try:
            raw = float(raw)
        except ValueError:
            raise ValueError(f"rating must be a number from 0 to 10, got {raw!r}") from None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 10:
        raise ValueError(f"rating must be a number from 0 to 10, got {raw!r}")
    return float(raw)


def offline_sync(store: Store) -> SidecarSync:
    """Sidecars written with no daemon running: a photo's own files (a RAW twin needs the
    daemon's catalog, and gets its rating when the daemon next writes it)."""
    return SidecarSync(store, None, True, lambda content: sorted(store.paths_for(content)))


def write_ratings(config: Config, ratings: list[tuple[bytes, float | None]]) -> None:
    if not ratings:
        return
    if api(config, "GET", "/api/status") is not None:
        for content, value in ratings:
            path = f"/api/images/{content.hex()}/rating"
            if value is None:
                api(config, "DELETE", path)
            else:
                api(config, "PUT", path, {"rating": value})
        return
    lock = InstanceLock(config.data_dir)
    lock.acquire("ratings")  # InstanceBusy names an `index` or `train` run that holds the store
    try:
        store = Store(config.data_dir, config.storage.map_size_gb)
        try:
            with store.write() as w:
                for content, value in ratings:
                    w.set_rating(content, value, time.time())
            if config.ratings.write_xmp:
                sync = offline_sync(store)
                for content, _ in ratings:
                    sync.write(content, frozenset({"rating"}))
        finally:
            store.close()
    finally:
        lock.release()


# ----------------------------------------------------------------- commands
def cmd_rate(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    try:
        value = rating_value(args.value)
    except ValueError as exc:
        print(f"anagnorisisd: {exc}", file=sys.stderr)
        return EXIT_USAGE
    path = normalise_root(args.path)
    store = reading_store(config)
    try:
        record = store.get_file(path)
        roots = store.get_setting(LIBRARY_SETTING) or list(config.library.paths)
    finally:
        store.close()
    if record is None or record.hash is None:
        real = real_roots(normalise_root(r) for r in roots)
        if not inside(os.path.realpath(path), real):
            where = ", ".join(roots) if roots else "none set"
            print(f"anagnorisisd: {path} is not in the library (its folders: {where})",
                  file=sys.stderr)
            return 1
        print(f"anagnorisisd: {path} is not indexed (yet); run 'anagnorisisd index' first",
              file=sys.stderr)
        return 1
    write_ratings(config, [(record.hash, value)])
    print(f"{path}: rating {'cleared' if value is None else f'{value:g}'}")
    return 0


def detect_format(file: Path, given: str | None) -> str:
    if given:
        return given
    return "jsonl" if file.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv"


def cmd_export(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.xmp:
        return export_sidecars(config)
    if args.file is None:
        print("anagnorisisd: ratings export needs a FILE (or --xmp)", file=sys.stderr)
        return EXIT_USAGE
    store = reading_store(config)
    try:
        rows = []
        for content, rating in store.ratings():
            paths = sorted(store.paths_for(content))
            rows.append({"id": content.hex(), "path": paths[0] if paths else "",
                         "rating": rating["value"],
                         "rated_at": dt.datetime.fromtimestamp(rating["at"], dt.UTC).isoformat()})
    finally:
        store.close()
    fmt = detect_format(args.file, args.format)
    out = sys.stdout if str(args.file) == "-" else args.file.open("w", newline="")
    try:
        if fmt == "csv":
            writer = csv.DictWriter(out, fieldnames=["id", "path", "rating", "rated_at"])
            writer.writeheader()
            writer.writerows(rows)
        else:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"exported {plural(len(rows), 'rating')}", file=sys.stderr)
    return 0


def export_sidecars(config: Config) -> int:
    """Every rating made here into the sidecars of the files that hold it, with the
    photo's pick, reject and colour label."""
    store = reading_store(config)
    sidecars = offline_sync(store)
    try:
        rated = [content for content, _ in store.ratings()]
        bar = ProgressBar("writing XMP sidecars", unit="ratings")
        write_everything(sidecars, rated, lambda done: bar.update(done, len(rated)))
        bar.close(len(rated), len(rated))
    finally:
        store.close()
    print(f"wrote {plural(sidecars.written, 'XMP sidecar')} for "
          f"{plural(len(rated), 'rating')}; "
          f"{sidecars.failed} could not be written"
          + (f" (last: {sidecars.last_error})" if sidecars.last_error else ""), file=sys.stderr)
    return 0 if not sidecars.failed else 1


def read_rows(file: Path, fmt: str) -> list[dict[str, Any]]:
    with file.open(newline="") as f:
        if fmt == "csv":
            return list(csv.DictReader(f))
        return [json.loads(line) for line in f if line.strip()]


def cmd_import(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    try:
        rows = read_rows(args.file, detect_format(args.file, args.format))
    except (OSError, ValueError) as exc:
        print(f"anagnorisisd: cannot read {args.file}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    store = reading_store(config)
    good: list[tuple[bytes, float | None]] = []
    problems: list[str] = []
    unknown = 0
    try:
        for number, row in enumerate(rows, start=2 if args.file.suffix == ".csv" else 1):
            try:
                content = row_content(store, row)
                value = rating_value(row.get("rating"))
            except ValueError as exc:
                problems.append(f"row {number}: {exc}")
                continue
            unknown += not store.is_live(content)
            good.append((content, value))
    finally:
        store.close()
    write_ratings(config, good)
    print(f"imported {plural(len(good), 'rating')} ({len(good) - unknown} "
          f"{'matches an image' if len(good) - unknown == 1 else 'match images'} in this "
          f"library, {unknown} kept for content not here); "
          f"{plural(len(problems), 'row')} rejected",
          file=sys.stderr)
    for problem in problems[:10]:
        print(f"  {problem}", file=sys.stderr)
    return 0 if not problems else 1


def row_content(store: Store, row: dict[str, Any]) -> bytes:
    raw_id = str(row.get("id") or "").strip().lower()
    if raw_id:
        if len(raw_id) != 64 or any(c not in "0123456789abcdef" for c in raw_id):
            raise ValueError(f"id {raw_id!r} is not an image id")
        return bytes.fromhex(raw_id)
    path = str(row.get("path") or "")
    record = store.get_file(normalise_root(path)) if path else None
    if record is None or record.hash is None:
        raise ValueError(f"no id, and the path {path!r} is not in this library")
    return record.hash


def cmd_train(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if api(config, "GET", "/api/status") is not None:
        api(config, "POST", "/api/train")
        status = follow(lambda: api(config, "GET", "/api/train"))
    else:
        from anagnorisisd.app.library import Library

        library = Library.open(config, "train")
        try:
            ratings = library.features.get("ratings")
            if ratings is None:
                print("anagnorisisd: cannot train: the ratings feature is off",
                      file=sys.stderr)
                return 1
            if not library.models.load():
                print(f"anagnorisisd: cannot train: {library.models.problem}", file=sys.stderr)
                return 1
            trainer: Any = getattr(ratings, "trainer")  # noqa: B009 - a feature of its own
            trainer.start()
            status = follow(trainer.public_status)
        finally:
            library.stop()
    print(summary(status))
    return 0 if status.get("state") == "done" else 1


def follow(poll: Any) -> dict[str, Any]:
    bar = ProgressBar("train", unit="%")
    while True:
        status: dict[str, Any] = poll()
        bar.update(int(status.get("progress", 0) * 100), 100)
        if status.get("state") != "running":
            bar.close(int(status.get("progress", 0) * 100), 100)
            return status
        time.sleep(0.3)


def summary(status: dict[str, Any]) -> str:
    lines = [f"training {status.get('state')}: {status.get('verdict') or status.get('error')}"]
    final, base = status.get("final"), status.get("baseline")
    if final and base:
        lines.append(f"model {status.get('chosen')} on {plural(final['n'], 'rating')} "
                     f"({final['folds']}-fold cross-validation): MAE {final['mae']:.2f} "
                     f"(baseline {base['mae']:.2f}), Spearman {final['spearman']:.2f}")
    return "\n".join(lines)
