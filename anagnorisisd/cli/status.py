"""`anagnorisisd status`: asks the running daemon, or reads the store (read-only) when none runs."""


from __future__ import annotations

import argparse
import json
import logging
import os
from typing import Any

from anagnorisisd import __version__
from anagnorisisd.app.status import build_status
from anagnorisisd.cli import client
from anagnorisisd.cli.progress import format_duration
from anagnorisisd.config import Config, load_config
from anagnorisisd.ingest.scanner import normalise_root
from anagnorisisd.ml.service import ModelService
from anagnorisisd.pipeline.registry import assemble, check_stage_config
from anagnorisisd.search.index_generation import saved_index_status
from anagnorisisd.stage import StageContext
from anagnorisisd.store.database import Store

log = logging.getLogger("anagnorisisd")
EXIT_USAGE = 2

def cmd_status(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    check_stage_config(config)  # a mistake in the file is said, whoever answers
    doc = fetch_daemon_status(config)
    if doc is None:
        doc = offline_status(config)
    if args.json:
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        print(render_status(doc))
    return 0


def fetch_daemon_status(config: Config) -> dict[str, Any] | None:
    """Ask a running daemon; None if none answers."""
    try:
        doc: dict[str, Any] | None = client.call(config, "GET", "/api/status", timeout=3)
    except client.DaemonError:
        return None
    if doc is not None:
        doc["daemon"] = "running"
    return doc


def offline_status(config: Config) -> dict[str, Any]:
    """The same document, computed from the store when no daemon is running (read-only when
    a store exists, so a status never migrates or changes anything)."""
    exists = (config.data_dir / "store.lmdb" / "data.mdb").exists()
    store = Store(config.data_dir, config.storage.map_size_gb, readonly=exists)
    try:
        models = ModelService(config, auto_pull=False, eager_session=False)
        assembly = assemble(config, StageContext(config, models))
        if assembly.provider("embedding") is not None:
            models.load()
        # What the daemon ran with, where the store remembers it: a version named by a model
        # this command does not load (faces, text) is never taken for "everything pending".
        remembered = store.remembered_versions()
        store.set_stage_versions({s.name: remembered.get(s.name, s.version)
                                  for s in assembly.stages}, remember=False)
        stored = store.get_setting("library.paths")
        roots = [normalise_root(p) for p in (stored or config.library.paths)]
        doc = build_status(
            store, assembly, None,
            library={"paths": roots, "source": "api" if stored is not None else "config",
                     "missing": [r for r in roots if not os.path.isdir(r)], "watching": [],
                     "extensions": list(config.library.extensions)},
            extra={"version": __version__, "uptime_s": 0.0, "config": config.source,
                   "data_dir": str(config.data_dir), "scan": {}, "model": models.status(),
                   "index": saved_index_status(config.data_dir / "index") or {}},
        )
    finally:
        store.close()
    doc["daemon"] = "not running"
    return doc


def stage_notes(stages: dict[str, Any]) -> list[str]:
    """Why a stage waits and what to do, one line each; and what a stage wants said of the
    model it runs (a stand-in for a better one)."""
    lines = []
    for name, st in stages.items():
        model = st.get("model") if isinstance(st.get("model"), dict) else {}
        if model.get("problem"):
            lines.append(f"  {name} waits: {model['problem']}")
        note = model.get("note") or st.get("note")
        if note:
            lines.append(f"  {name}: {note}")
    return lines


def render_status(doc: dict[str, Any]) -> str:
    lib = doc["library"]
    files = doc["files"]
    lines = [
        f"anagnorisisd {doc['version']}: daemon {doc.get('daemon', 'unknown')}"
        + (f", up {format_duration(doc['uptime_s'])}" if doc.get("uptime_s") else ""),
        f"library: {', '.join(lib['paths']) or '(not set)'}",
    ]
    if lib.get("missing"):
        lines.append(f"  missing (watched for): {', '.join(lib['missing'])}")
    lines.append(f"files: {files['total']} total, {files['done']} done, {files['failed']} failed, "
                 f"{files['pending']} pending")
    ready_back_to = (doc.get("queue") or {}).get("ready_back_to")
    if ready_back_to:  # the queue is worked newest first
        lines.append(f"  ready back to {ready_back_to[:10]}: the newest files first, older "
                     "ones follow")
    lines.append(f"{'stage':<12}{'done':>9}{'pending':>9}{'failed':>8}{'rate/s':>9}  eta")
    for name, st in doc["stages"].items():
        rate = st.get("rate_per_s")
        lines.append(f"{name:<12}{st['done']:>9}{st['pending']:>9}{st['failed']:>8}"
                     f"{rate if rate is not None else '-':>9}  {format_duration(st.get('eta_s'))}")
    lines += stage_notes(doc["stages"])
    model = doc.get("model") or {}
    if model:
        lines.append(f"model: {model.get('identity') or model.get('name')} ({model.get('state')})"
                     + (f": {model['problem']}" if model.get("problem") else ""))
    for worker in (model.get("remote") or {}).get("workers", []):
        latency = worker.get("latency_ms")
        lines.append(f"  worker {worker['url']}: {worker['state']}, {worker['done']} images, "
                     f"{worker['images_per_s']}/s, "
                     f"{f'{latency:g} ms' if latency is not None else 'no answer yet'}, "
                     f"{worker['failures']} failures"
                     + (f" (last: {worker['last_error']})" if worker.get("last_error") else ""))
    index = doc.get("index") or {}
    if index:
        lines.append(f"index: {index.get('items', 0)} images + {index.get('fresh', 0)} new"
                     + (f", built {format_duration(index['age_s'])} ago"
                        if index.get("age_s") is not None else ""))
    for name, problem in doc["plugins"]["problems"].items():
        lines.append(f"problem: {name}: {problem}")
    return "\n".join(lines)
