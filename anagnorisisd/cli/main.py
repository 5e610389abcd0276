"""The ``anagnorisisd`` command line.

Every subcommand takes ``--config PATH`` after its own name. Expected failures
(bad config, missing library, a store from the future) end in one line on
stderr and a non-zero exit code; a traceback means a bug.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from anagnorisisd import __version__
from anagnorisisd.app.library import Library
from anagnorisisd.app.library_paths import LibraryPathError
from anagnorisisd.cli import albums as cli_albums
from anagnorisisd.cli import client
from anagnorisisd.cli import concepts as cli_concepts
from anagnorisisd.cli import culling as cli_culling
from anagnorisisd.cli import models as cli_models
from anagnorisisd.cli import people as cli_people
from anagnorisisd.cli import places as cli_places
from anagnorisisd.cli import ratings as cli_ratings
from anagnorisisd.cli.progress import ProgressBar, format_duration, plural
from anagnorisisd.cli.status import cmd_status
from anagnorisisd.config import Config, ConfigError, load_config
from anagnorisisd.ingest.scanner import normalise_root
from anagnorisisd.store.database import StoreError
from anagnorisisd.store.instance import InstanceBusy, holder

log = logging.getLogger("anagnorisisd")
EXIT_USAGE = 2


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("serve", "index"):
        from anagnorisisd.cli.memory import with_tamed_malloc

        with_tamed_malloc(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
        logging.getLogger("httpx2").setLevel(logging.WARNING)
        logging.getLogger("httpx").setLevel(logging.WARNING)
    handler: Callable[[argparse.Namespace], int] = args.func
    try:
        return handler(args)
    except BrokenPipeError:  # `status --json | head`: the reader has what it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the exit's own flush does not fail again
        return 141
    except ConfigError as exc:
        print(f"anagnorisisd: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LibraryPathError as exc:
        print(f"anagnorisisd: library path error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as exc:
        print(f"anagnorisisd: store error: {exc}", file=sys.stderr)
        return 1
    except InstanceBusy as exc:
        print(f"anagnorisisd: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _serve(args: argparse.Namespace) -> int:
    """Imported on use: the web server's imports (aiohttp) cost every other command a
    tenth of a second it has no use for."""
    from anagnorisisd.cli.serve import cmd_serve

    return cmd_serve(args)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", help="config file (default: ./config.toml, "
                        "then $XDG_CONFIG_HOME/anagnorisisd/config.toml, then built-in defaults)")
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser = argparse.ArgumentParser(
        prog="anagnorisisd", description="A local, private image-library assistant.")
    parser.add_argument("--version", action="version", version=f"anagnorisisd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", parents=[common], help="run the daemon (watch, index, serve)")
    serve.set_defaults(func=lambda args: _serve(args))

    index = sub.add_parser("index", parents=[common], help="process everything pending, then exit")
    index.add_argument("paths", nargs="*", metavar="PATH",
                       help="folders to index (default: the configured library)")
    index.set_defaults(func=cmd_index)

    status = sub.add_parser("status", parents=[common], help="show progress and problems")
    status.add_argument("--json", action="store_true", help="print the /api/status document")
    status.set_defaults(func=cmd_status)

    cli_models.add_commands(sub, common)

    search = sub.add_parser("search", parents=[common],
                            help="search the library (asks the daemon, or reads the store)")
    search.add_argument("query", metavar="QUERY", help="free text, keywords and filters")
    search.add_argument("--limit", type=int, default=20, help="how many results (default 20)")
    search.add_argument("--json", action="store_true", help="print the /api/images document")
    search.set_defaults(func=cmd_search)

    cli_ratings.add_commands(sub, common)
    cli_culling.add_commands(sub, common)
    cli_people.add_commands(sub, common)
    cli_concepts.add_commands(sub, common)
    cli_albums.add_commands(sub, common)
    cli_places.add_commands(sub, common)

    demo = sub.add_parser("demo", parents=[common],
                          help="create a demo library and config that work offline")
    demo.add_argument("directory", metavar="DIR", type=Path)
    demo.add_argument("--count", type=int, default=400, help="pictures to draw (default 400)")
    demo.add_argument("--port", type=int, default=8765)
    demo.set_defaults(func=cmd_demo)
    return parser


# --------------------------------------------------------------------- serve


def cmd_demo(args: argparse.Namespace) -> int:
    from anagnorisisd.app.demo import create_demo

    config_path = create_demo(args.directory, args.count, args.port)
    print(f"demo library and config written; start it with:\n"
          f"  anagnorisisd serve --config {config_path}\n"
          f"then open http://127.0.0.1:{args.port}/")
    return 0


# -------------------------------------------------------------------- search
def cmd_search(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    limit = max(1, min(args.limit, 500))
    offline = False
    try:
        doc = daemon_get(config, "/api/images?" + urllib.parse.urlencode(
            {"q": args.query, "per_page": limit}))
        if doc is None:
            offline = True
            doc = offline_search(config, args.query, limit)
    except SearchFailed as exc:
        print(f"anagnorisisd: {exc}", file=sys.stderr)
        return exc.code
    if args.json:
        print(json.dumps(doc, indent=2))
    else:
        print(plural(doc["total"], "result") + (f", showing {len(doc['items'])}"
                                               if doc["total"] > len(doc["items"]) else ""))
        print_results(doc["items"])
    if offline:
        exit_at_once(0)
    return 0


def exit_at_once(code: int) -> NoReturn:
    """End a one-off query without Python's teardown of what it loaded (the text model's
    session, the catalog's arrays): 0.15 s at 100,000 photos, after the answer is shown.
    Nothing is left to write by now: the library has stopped and its store is closed."""
    logging.shutdown()
    with contextlib.suppress(OSError):  # a reader that went away (| head): nothing to say
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def print_results(items: list[dict[str, Any]]) -> None:
    """A table with a header; the score column only when the query scored anything (free
    text or similar:ID), since a filter-only query has no scores to show; a clip found by
    a scene says at which second."""
    scored = any(item.get("score") is not None for item in items)
    if not items:
        return
    print(("score  " if scored else "") + f"{'size':>11}  {'bytes':>10}  path")
    for item in items:
        score = f"{item['score']:.3f}  " if item.get("score") is not None else "       "
        dims = f"{item['width']}x{item['height']}" if item.get("width") else "?"
        at = item.get("at_s")  # a clip found by one of its scenes: where, as a player shows it
        moment = f"  (at {int(at) // 60}:{int(at) % 60:02d})" if isinstance(at, int | float) \
            else ""
        print(f"{score if scored else ''}{dims:>11}  {item.get('file_size') or 0:>10}  "
              f"{item['path']}{moment}")


class SearchFailed(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def daemon_get(config: Config, path: str) -> dict[str, Any] | None:
    """GET from a running daemon; None if none answers; SearchFailed for its 4xx/5xx."""
    try:
        doc: dict[str, Any] | None = client.call(config, "GET", path)
    except client.DaemonError as exc:
        raise SearchFailed(str(exc), EXIT_USAGE if exc.status in (400, 404) else 1) from None
    return doc


def offline_search(config: Config, text: str, limit: int) -> dict[str, Any]:
    """The same search without a daemon, from the library opened as the daemon opens it
    (its features loaded: people, concepts, the words read in the photos); the image
    model's session is never loaded, and the text model only for a query with words."""
    from anagnorisisd.app.presenters import run_query
    from anagnorisisd.search.query import Query, QueryError
    from anagnorisisd.search.service import NoSuchImage, SearchUnavailable

    def needs_model(library: Library, query: Query) -> bool:
        return library.uses_model and bool(query.text or query.negative or query.sort in (
            "similar", "similarity"))

    def embed_ahead(library: Library) -> None:
        """The query's words embedded while the catalog loads; any trouble is met again,
        and said, by the search itself."""
        try:
            query = library.search.parse(text)
            if needs_model(library, query) and library.models.load() and query.text:
                library.search.text_vector(query)  # kept in the model's text cache
        except Exception:
            log.debug("embedding ahead failed", exc_info=True)

    library = Library.open(config, "search", beside=embed_ahead)
    try:
        try:
            query = library.search.parse(text)
        except QueryError as exc:
            raise SearchFailed(f"bad query at '{exc.token}': {exc}", EXIT_USAGE) from None
        if needs_model(library, query) and library.models.maybe_model() is None:
            library.models.load()  # its ready listener loads the saved index, once
        try:
            return run_query(library, query, 1, limit, None)
        except SearchUnavailable as exc:
            raise SearchFailed(str(exc), 1) from None
        except NoSuchImage as exc:
            raise SearchFailed(str(exc), EXIT_USAGE) from None
    finally:
        library.stop()


# --------------------------------------------------------------------- index
def cmd_index(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    running = holder(config.data_dir)
    if running is not None and running.get("role") == "serve":
        print(f"anagnorisisd: the daemon (PID {running.get('pid')}) is running and indexes on "
              "its own; follow it with 'anagnorisisd status'", file=sys.stderr)
        return 1
    given = [normalise_root(p) for p in args.paths]
    for root in given:  # the command line's own mistake, said as such (not a config error)
        if not os.path.isdir(root):
            print(f"anagnorisisd: {root} does not exist or is not a directory",
                  file=sys.stderr)
            return EXIT_USAGE
    library = Library.open(config, "index")
    roots = given or library.roots
    try:
        if not roots:
            raise ConfigError("no library configured: give PATH arguments or set [library] paths")
        for root in roots:
            if not os.path.isdir(root):
                raise ConfigError(f"[library] paths: {root} does not exist or is not a directory")
        stopping = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stopping.set())
        started = time.monotonic()
        if library.uses_model and not library.models.load():
            print(f"anagnorisisd: semantic search unavailable: {library.models.problem}",
                  file=sys.stderr)
        library.pipeline.start()
        print(f"scanning {', '.join(roots)} ...", file=sys.stderr)
        report = library.rescan(roots)
        if report is not None:
            print(f"found {report.seen} files ({report.queued} new or changed, "
                  f"{report.removed} gone) in {report.seconds:.2f}s", file=sys.stderr)
        bar = ProgressBar("index")
        while not stopping.is_set() and not library.pipeline.is_idle():
            if library.store.full is not None:
                break
            files = library.store.census_snapshot().files
            bar.update(files["done"] + files["failed"], sum(files.values()))
            time.sleep(0.2)
        files = library.store.census_snapshot().files
        bar.close(files["done"] + files["failed"], sum(files.values()))
        if not stopping.is_set() and library.store.full is None:
            wait_for_background(library, stopping)
        if library.store.full is not None:
            print(f"anagnorisisd: stopped: {library.store.full}", file=sys.stderr)
            return 1
        if stopping.is_set():
            print("interrupted; the rest stays queued for the next run", file=sys.stderr)
        else:
            print(f"indexed {sum(files.values())} files: {files['done']} done, "
                  f"{files['failed']} failed, in {format_duration(time.monotonic() - started)}",
                  file=sys.stderr)
            for rec in list(library.store.failures())[:10]:
                print(f"  failed: {rec.path}: [{rec.fail_stage}] {rec.fail_reason}",
                      file=sys.stderr)
            if library.models.ready and library.search.rebuild_if_needed(force=True):
                print(f"vector index built: {library.search.index.status()['items']} images",
                      file=sys.stderr)
    finally:
        library.stop()
    return 0


def wait_for_background(library: Library, stopping: threading.Event,
                        stalled_s: float = 60.0) -> None:
    """After the foreground stages: every background stage that can run (text) runs to
    the end, with its own bar; one that cannot (no model) is named with why. A lane that
    makes no progress for `stalled_s` (its worker does not answer) is left: what it still
    has waits for the daemon."""
    from anagnorisisd.app.status import stage_counts

    lanes = {lane.stage.name: lane for lane in library.pipeline.lanes}
    for stage in library.assembly.stages:
        name = stage.name
        if not stage.keys_content and not library.pipeline.plan.ready(stage):
            print(f"{name}: not run now: {waiting_reason(stage)}", file=sys.stderr)
            continue
        lane = lanes.get(name)
        if lane is None:
            continue
        lane.wake()
        bar = ProgressBar(f"{name} (background)")
        last, since = -1, time.monotonic()
        while not stopping.is_set() and library.store.full is None:
            counts = stage_counts(library.store, library.assembly)[name]
            done = counts["done"] + counts["failed"] + counts["skipped"]
            bar.update(done, done + counts["pending"])
            if not counts["pending"]:
                break
            if done != last:
                last, since = done, time.monotonic()
            elif time.monotonic() - since > stalled_s:
                print(f"\n{name}: {counts['pending']} left for the daemon (no progress for "
                      f"{stalled_s:g} s)", file=sys.stderr)
                break
            time.sleep(0.2)
        bar.close(last, last + stage_counts(library.store, library.assembly)[name]["pending"])


def waiting_reason(stage: Any) -> str:
    """Why a stage cannot run now, from its own status (its model's problem), in a line."""
    try:
        model = stage.status().get("model") or {}
    except Exception:  # a plugin's status hook must not stop the command
        model = {}
    problem = model.get("problem") if isinstance(model, dict) else None
    return str(problem or "not ready")


# -------------------------------------------------------------------- status


