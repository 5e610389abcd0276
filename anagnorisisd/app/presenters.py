"""What both faces present from the library: an image described, a page of results, the
duplicate groups, the file of an image that may be served. Plain dicts, for JSON and for
the terminal alike."""

from __future__ import annotations

import os
from typing import Any

from anagnorisisd.app.library import Library
from anagnorisisd.ingest.safe_io import inside, real_roots
from anagnorisisd.search.query import Query
from anagnorisisd.search.results import Page
from anagnorisisd.store.database import Store
from anagnorisisd.store.snapshot import Snapshot

SUMMARY_ITEMS = 20
PHOTO_FIELDS = ("taken_at", "taken_offset", "taken_source", "camera", "lens", "focal_length",
                "exposure", "f_number", "iso", "gps", "place")
"""What the metadata stage read about when, with what and where, as items show it."""


def describe(library: Library, content: bytes, score: float | None = None,
             reads: Store | Snapshot | None = None) -> dict[str, Any]:
    """One photo: what the core knows (files, size, ratings, tags), then what each feature
    adds (Feature.describe: its decision and label, its suggested tags...). `reads`: the
    page's one snapshot (page_json), else the store."""
    reads = reads or library.store
    entry = library.search.catalog.get(content)
    paths = sorted(reads.paths_for(content))
    raws = library.search.catalog.twins(content)
    return {
        "id": content.hex(),
        "path": paths[0] if paths else None,
        "paths": paths,
        "files": paths + sorted(p for raw in raws for p in reads.paths_for(raw)),
        "pair": [raw.hex() for raw in raws],
        "width": entry.width if entry else None,
        "height": entry.height if entry else None,
        "file_size": entry.file_size if entry else None,
        "format": entry.format if entry else None,
        "user_rating": entry.user_rating if entry else None,
        "model_rating": entry.model_rating if entry else None,
        "model_version": entry.model_version if entry else None,
        "sharpness": (entry.sharpness if entry and entry.sharpness == entry.sharpness
                      else None),
        "score": score,
        "tags": [{"name": name, "source": source}
                 for name, source in library.search.catalog.tags.of(content)],
        **photo_fields(library, content, reads),
        **library.features.describe(content),
    }


def photo_fields(library: Library, content: bytes, reads: Store | Snapshot) -> dict[str, Any]:
    stage = library.search.catalog.metadata_stage
    meta = reads.get_result(content, stage) if stage else None
    return {name: (meta or {}).get(name) for name in PHOTO_FIELDS}


def page_json(library: Library, result: Page, page: int, per_page: int) -> dict[str, Any]:
    with library.store.snapshot() as reads:
        items = [describe(library, h.content, h.score, reads) | h.extra for h in result.hits]
    out = {"total": result.total, "page": page, "per_page": per_page,
           "unreadable": library.search.catalog.failed_count(), "items": items}
    if result.years is not None:
        out["years"] = [{"year": year, "count": count, "page": first // per_page + 1}
                        for year, count, first in result.years]
    if result.notice:
        out["notice"] = result.notice
    if result.strong is not None:
        out["strong"] = result.strong
    if result.later:
        out["later"] = True
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
