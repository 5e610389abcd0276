"""Albums at 100,000 photos with 50 smart albums (and 20 manual ones of up to 5,000).

Run: make bench-albums   (or: .venv/bin/python bench/bench_albums.py [--items N])

1. One photo changing (a rating, through the ratings feature and the event hub, as the
   daemon does it): what it costs the albums on the thread that made the change (they
   mark themselves stale), and the one pass that follows within a second on the albums'
   own thread (every smart album's query, every count and cover). Beside it, the nearest
   limit: the same 50 queries run bare through the search service, which is what "a full
   query per change" would cost. Goal: < 5 ms p95 per change.
2. GET /api/albums's work (the listing, counts and covers kept), p95. Goal: < 20 ms.
3. album:"…" query p95 through the search service, a page of 50, for a smart album, a
   manual one, -album:, and with another word; a query with no album word as the floor.
   Goal: < 20 ms.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from anagnorisisd.app.features import vocabulary_of
from anagnorisisd.config import load_config
from anagnorisisd.events import FlagsChanged, Hub
from anagnorisisd.feature import FeatureContext
from anagnorisisd.features.albums.feature import AlbumsFeature
from anagnorisisd.features.places.feature import PlacesFeature
from anagnorisisd.features.ratings.feature import RatingsFeature
from anagnorisisd.search.catalog_rows import Entry
from anagnorisisd.search.core_words import LibraryFeature
from anagnorisisd.search.service import SearchService
from anagnorisisd.store.database import Store
from bench.bench_text import StubModel, StubModels

SMART = 50
MANUAL = 20


def p(values: list[float], q: float) -> float:
    return float(np.percentile(values, q) * 1000)


def library(n: int, work: Path) -> tuple[Any, ...]:
    rng = np.random.default_rng(5)
    (work / "config.toml").write_text(f'[storage]\ndata_dir = "{work / "data"}"\n')
    config = load_config(str(work / "config.toml"))
    store = Store(work / "store")
    search = SearchService(store, StubModels(StubModel(512)), work / "index")  # type: ignore[arg-type]
    ids = [i.to_bytes(32, "big") for i in range(n)]
    start = time.mktime((2015, 1, 1, 0, 0, 0, 0, 0, 0))
    for i, content in enumerate(ids):
        rated = rng.random() < 0.3
        search.catalog.entries[content] = Entry(
            int(rng.choice([1920, 3000, 4032, 6000])), 3000, int(rng.integers(1e5, 2e7)),
            str(rng.choice(["jpeg", "heif", "png", "dng"])),
            user_rating=float(rng.integers(0, 11)) if rated else None,
            model_rating=float(rng.uniform(0, 10)), taken=start + rng.uniform(0, 3e8),
            own_time=True, camera=f"Camera {i % 17}", place=f"town {i % 300}",
            has_gps=bool(i % 3), described=True, thumbnailed=True)
    search.catalog.columns()
    hub = Hub()
    features: list[Any] = []

    def context(name: str) -> FeatureContext:
        return FeatureContext(config=config, store=store, catalog=search.catalog,
                              search=search, hub=hub, models=None, stages=None, section={},
                              roots=lambda: [], data_dir=work / name,
                              schedule=lambda *_a: None, role="index",
                              files_of=lambda _c: [])

    classes = [LibraryFeature, RatingsFeature, PlacesFeature, AlbumsFeature]
    vocabulary, _kept = vocabulary_of(classes)
    for cls in classes:
        features.append(cls(context(cls.name)))
    search.use_features(vocabulary, features)
    for feature in features:
        feature.subscribe(hub)
    return search, features, hub, ids


def make_albums(albums: Any, ids: list[bytes]) -> None:
    rng = np.random.default_rng(9)
    shapes = ['rating>=7 place:"town {a}"', 'camera:"Camera {a}" year:20{y}',
              "format=png rating>=5", "width>=6000 has:gps", 'rating>=9 -has:gps']
    for i in range(SMART):
        query = shapes[i % len(shapes)].format(a=i % 300, y=15 + i % 10)
        albums.create(f"Smart {i}", query)
    for i in range(MANUAL):
        album = albums.create(f"Manual {i}")
        chosen = rng.choice(len(ids), int(rng.integers(10, 5000)), replace=False)
        albums.change(album.id, [ids[j] for j in chosen], [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        search, features, hub, ids = library(args.items, Path(folder))
        albums_feature = features[-1]
        albums = albums_feature.albums
        ratings = features[1].ratings
        began = time.perf_counter()
        make_albums(albums, ids)
        made_s = time.perf_counter() - began
        albums.refresh(force=True)

        rng = np.random.default_rng(1)
        change, passes, bare = [], [], []
        for _ in range(100):
            content = ids[int(rng.integers(len(ids)))]
            begin = time.perf_counter()
            ratings.set(content, float(rng.integers(0, 11)))
            rated = time.perf_counter()
            change.append(rated - begin)
            begin = time.perf_counter()
            assert albums.refresh()
            passes.append(time.perf_counter() - begin)
        mark = []
        for _ in range(1000):
            begin = time.perf_counter()
            hub.publish(FlagsChanged(ids[0], frozenset({"rating"})))
            mark.append(time.perf_counter() - begin)
        columns = search.catalog.columns()
        queries = [search.parse(a.query) for a in albums.albums.values() if a.smart]
        for _ in range(10):
            begin = time.perf_counter()
            for query in queries:
                search.filter_rows(query, columns)
            bare.append(time.perf_counter() - begin)

        listing = []
        for _ in range(200):
            begin = time.perf_counter()
            albums.listing()
            listing.append(time.perf_counter() - begin)

        rows = []
        names = [("(no album word: the floor)", "width>=6000"),
                 ("(every photo: the floor for a big answer)", "width>=1"),
                 ('album:"Smart N" (smart)', 'album:"Smart {i}"'),
                 ('album:"Manual N" (manual)', 'album:"Manual {m}"'),
                 ('-album:"Manual N"', '-album:"Manual {m}"'),
                 ('album:"Manual N" rating>=5', 'album:"Manual {m}" rating>=5')]
        for label, shape in names:
            latencies, totals = [], []
            for k in range(100):
                query = search.parse(shape.format(i=k % SMART, m=k % MANUAL))
                begin = time.perf_counter()
                page = search.search(query, 1, 50)
                latencies.append(time.perf_counter() - begin)
                totals.append(page.total)
            rows.append((label, p(latencies, 50), p(latencies, 95), float(np.median(totals))))

    print(f"albums over {args.items:,} photos: {SMART} smart albums, {MANUAL} manual ones "
          f"(made in {made_s:.1f} s), 2 cores\n")
    print("| one photo changing | p50 ms | p95 ms |")
    print("|---|---|---|")
    print(f"| a rating set (store, catalog, hub; the albums mark themselves stale) | "
          f"{p(change, 50):.2f} | {p(change, 95):.2f} |")
    print(f"| the albums' own share of it (their listener) | {p(mark, 50):.4f} | "
          f"{p(mark, 95):.4f} |")
    print(f"| the pass that follows, on the albums' thread (at most one a second) | "
          f"{p(passes, 50):.1f} | {p(passes, 95):.1f} |")
    print(f"| limit: the {SMART} smart queries run bare (a full query per change) | "
          f"{p(bare, 50):.1f} | {p(bare, 95):.1f} |")
    print(f"\nGET /api/albums's work ({SMART + MANUAL} albums): p50 {p(listing, 50):.3f} ms, "
          f"p95 {p(listing, 95):.3f} ms\n")
    print("| query, page of 50 | p50 ms | p95 ms | median results |")
    print("|---|---|---|---|")
    for label, p50, p95, total in rows:
        print(f"| `{label}` | {p50:.1f} | {p95:.1f} | {total:,.0f} |")


if __name__ == "__main__":
    main()
