"""What both faces present from the library: an image described, a page of results, the
duplicate groups, the file of an image that may be served. Plain dicts, for JSON and for
the terminal alike."""

from __future__ import annotations

import os
from typing import Any

from anagnorisisd.app.library import Library
from anagnorisisd.ingest.safe_io import inside, real_roots
from anagnorisisd.search.query import Query
from anagnorisisd.search.service import Page

SUMMARY_ITEMS = 20
PHOTO_FIELDS = ("taken_at", "taken_offset", "taken_source", "camera", "lens", "focal_length",
                "exposure", "f_number", "iso", "gps", "place")
"""What the metadata stage read about when, with what and where, as items show it."""


def describe(library: Library, content: bytes, score: float | None = None) -> dict[str, Any]:
    entry = library.search.catalog.get(content)
    paths = sorted(library.store.paths_for(content))
    current = library.trainer.current.version if library.trainer.current else None
    model_version = entry.model_version if entry else None
    raws = library.search.catalog.twins(content)
    return {
        "id": content.hex(),
        "path": paths[0] if paths else None,
        "paths": paths,
        "files": paths + sorted(p for raw in raws for p in library.store.paths_for(raw)),
        "pair": [raw.hex() for raw in raws],
        "width": entry.width if entry else None,
        "height": entry.height if entry else None,
        "file_size": entry.file_size if entry else None,
        "format": entry.format if entry else None,
        "user_rating": entry.user_rating if entry else None,
        "model_rating": entry.model_rating if entry else None,
        "model_version": model_version,
        "model_rating_stale": bool(model_version and model_version != current),
        "sharpness": (entry.sharpness if entry and entry.sharpness == entry.sharpness
                      else None),
        "score": score,
        "tags": [{"name": name, "source": source}
                 for name, source in library.search.catalog.tags.of(content)],
        "suggested_tags": library.concepts.suggested_for(content),
        "decision": library.reviews.decision(content),
        "label": library.reviews.label(content),
        **photo_fields(library, content),
    }


def text_lines(library: Library, content: bytes) -> dict[str, Any] | None:
    """GET /api/images/{id}/text: every line read, or why there are none; None when no
    text is read in this library."""
    stage = library.text_stage
    if stage is None:
        return None
    mark = library.store.get_mark(content, stage)
    output = library.store.get_result(content, stage) or {}
    state = "failed" if mark and mark.error else "read" if output else "pending"
    return {"state": state, "error": mark.error if mark else None,
            "width": output.get("width"), "height": output.get("height"),
            "read_at": output.get("read_at"), "model": output.get("model"),
            "lines": [{"text": line["text"], "box": line["box"], "score": line["score"],
                       "quad": line.get("quad")} for line in output.get("lines") or []]}


def photo_fields(library: Library, content: bytes) -> dict[str, Any]:
    stage = library.search.catalog.metadata_stage
    meta = library.store.get_result(content, stage) if stage else None
    return {name: (meta or {}).get(name) for name in PHOTO_FIELDS}


def page_json(library: Library, result: Page, page: int, per_page: int) -> dict[str, Any]:
    items = [describe(library, h.content, h.score) for h in result.hits]
    for item, hit in zip(items, result.hits, strict=True):
        if hit.words:
            item["matched_text"] = hit.words
    out = {"total": result.total, "page": page, "per_page": per_page,
           "unreadable": library.search.catalog.failed_count(), "items": items}
    if result.years is not None:
        out["years"] = [{"year": year, "count": count, "page": first // per_page + 1}
                        for year, count, first in result.years]
    if result.notice:
        out["notice"] = result.notice
    return out


def run_query(library: Library, query: Query, page: int, per_page: int,
              seed: int | None) -> dict[str, Any]:
    result = library.search.search(query, page, per_page, seed)
    return page_json(library, result, page, per_page)


def servable_path(library: Library, content: bytes) -> str | None:
    """A file of this image that really lies in the library now, links resolved: a symlink
    or a folder swapped in since indexing cannot make the daemon serve what is outside."""
    roots = real_roots(library.roots)
    for path in sorted(library.store.paths_for(content)):
        real = os.path.realpath(path)
        if inside(real, roots) and os.path.isfile(real):
            return real
    return None


def duplicate_groups(library: Library, threshold: float) -> dict[str, Any]:
    groups = []
    for contents in library.search.duplicate_groups(threshold):
        files: list[dict[str, Any]] = []
        for content in contents:
            entry = library.search.catalog.get(content)
            for path in sorted(library.store.paths_for(content)):
                record = library.store.get_file(path)
                files.append({
                    "id": content.hex(), "path": path,
                    "width": entry.width if entry else None,
                    "height": entry.height if entry else None,
                    "file_size": entry.file_size if entry else None,
                    "mtime_ns": record.mtime_ns if record else None,
                })
        if len(files) < 2:
            continue
        if len(contents) == 1:  # one photo at several paths: keep the oldest file of it
            keeper = min(files, key=lambda f: (f["mtime_ns"] or 0, f["path"]))
            reason = "exact copies of one photo: the oldest file is kept"
        else:
            content, reason = library.culling.keeper(contents)
            keeper = next(f for f in files if f["id"] == content.hex())
            kept = [bytes.fromhex(keeper["id"])]
            for f in files:  # the model grouped them: do their pixels agree?
                f["alike"] = library.culling.looks_alike(bytes.fromhex(f["id"]), kept)
        groups.append({"kind": "exact" if len(contents) == 1 else "near", "files": files,
                       "keeper": {"id": keeper["id"], "path": keeper["path"]},
                       "reason": reason})
    return {"threshold": threshold, "total": len(groups), "groups": groups,
            "notice": library.culling.model_notice()}


def summarize(value: Any, depth: int = 0) -> Any:
    """A stage's output made fit for JSON and for reading: bytes become their length, long
    lists their first items and their length. Any stage's output can be shown this way,
    whatever its schema."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"bytes": len(value)}
    if isinstance(value, dict):
        return {str(k): summarize(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        items = [summarize(v, depth + 1) for v in value[:SUMMARY_ITEMS]]
        return items if len(value) <= SUMMARY_ITEMS else {"first": items, "length": len(value)}
    if isinstance(value, float) and value != value:
        return None
    return value
