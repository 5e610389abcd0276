"""Text in photos: the text stage against bare rapidocr, the photos with no text, and text
and hybrid queries at 100,000 photos with text.

Run: make bench-text   (or: .venv/bin/python bench/bench_text.py [--copies N] [--photos N])

1. Pages with text (Chromium renders N screenshots of receipts, notes and menus) through
   the whole pipeline's text path (hash, meta, then the text stage in its background
   lane, on the wheel's PP-OCRv6 weights) against bare rapidocr (its own `RapidOCR()`
   call on each file, the same weights, decoding included), in one run.
2. The same on a realistic mix where most photos hold no text: real photos (scikit-image's
   and face-api's demo photos, copied) with one page in five; and what a photo without
   text costs against one with text.
3. `text:"…"` and free-text (hybrid: words fused with the vector index) query p95 through
   the search service at 100,000 photos with text (synthetic lines drawn from a 5,000-word
   vocabulary, Zipf-distributed; clustered 512-d vectors, bench_index's), per page of 50
   with the matched lines. The query's text encoding is left out (a stub returns a fixed
   vector): bench_index measures it (about 55 ms for ViT-B/32's text tower, cached after).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from anagnorisisd.config import build_config
from anagnorisisd.features.text.words import WordIndex
from anagnorisisd.ingest.scanner import scan
from anagnorisisd.pipeline.registry import assemble
from anagnorisisd.pipeline.runner import Pipeline
from anagnorisisd.search.catalog_rows import Entry
from anagnorisisd.search.service import SearchService
from anagnorisisd.stage import StageContext
from anagnorisisd.store.database import Store
from tests.helpers import parse

ROOT = Path(__file__).resolve().parent.parent
WORDS = [
    "the", "of", "and", "to", "in", "is", "you", "that", "it", "he", "was", "for", "on", "are",
    "as", "with", "his", "they", "at", "be", "this", "from", "have", "or", "by", "one", "had",
    "not", "but", "what", "all", "were", "when", "we", "there", "can", "an", "your", "which",
    "their", "said", "if", "do", "will", "each", "about", "how", "up", "out", "them", "then",
    "she", "many", "some", "so", "these", "would", "other", "into", "has", "more", "her", "two",
    "like", "him", "see", "time", "could", "no", "make", "than", "first", "been", "its", "who",
    "now", "people", "my", "made", "over", "did", "down", "only", "way", "find", "use", "may",
    "water", "long", "little", "very", "after", "words", "called", "just", "where", "most",
    "know", "get", "through", "back", "much", "go", "good", "new", "write", "our", "me", "man",
    "too", "any", "day", "same", "right", "look", "think", "also", "around", "another", "came",
    "come", "work", "three", "word", "must", "because", "does", "part", "even", "place", "well",
    "such", "here", "take", "why", "things", "help", "put", "years", "different", "away",
    "again", "off", "went", "old", "number", "great", "tell", "men", "say", "small", "every",
    "found", "still", "between", "name", "should", "home", "big", "give", "air", "line", "set",
    "own", "under", "read", "last", "never", "us", "left", "end", "along", "while", "might",
    "next", "sound", "below", "saw", "something", "thought", "both", "few", "those", "always",
    "looked", "show", "large", "often", "together", "asked", "house", "world", "going", "want",
    "school", "important", "until", "form", "food", "keep", "children", "feet", "land", "side",
    "without", "boy", "once", "animals", "life", "enough", "took", "wifi", "password",
    "network", "guest", "receipt", "total", "summe", "bauhaus", "invoice", "ticket", "gate",
    "platform", "menu", "coffee", "tea", "price", "euro", "dollar", "open", "closed", "monday",
    "tuesday", "street", "avenue", "exit",
]
"""English's commonest words, then words of receipts, tickets and notes."""


def pages(folder: Path, count: int) -> list[Path]:
    """Screenshots of text pages, each different, as Chromium draws them."""
    from playwright.sync_api import sync_playwright

    rng = np.random.default_rng(3)
    out = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                     args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1080, "height": 1350})
        for i in range(count):
            lines = [" ".join(rng.choice(WORDS, rng.integers(2, 7))).capitalize()
                     + f" {rng.integers(1, 999)},{rng.integers(10, 99)}"
                     for _ in range(rng.integers(4, 14))]
            body = "".join(f"<p>{line}</p>" for line in lines)
            page.set_content(f"<body style='font:{rng.integers(22, 40)}px sans-serif;"
                             f"margin:48px'>{body}</body>")
            out.append(folder / f"page{i:03d}.png")
            page.screenshot(path=str(out[-1]))
        browser.close()
    return out


def photos(folder: Path, count: int) -> list[Path]:
    """Real photos without text, copied to `count` files."""
    from skimage import data

    from tools.npm_files import FACE_API_PHOTOS

    sources = []
    for name in ("astronaut", "coffee", "chelsea", "rocket", "gravel", "brick", "grass",
                 "hubble_deep_field", "camera", "moon", "retina"):
        img = getattr(data, name)()
        img = np.stack([img] * 3, -1) if img.ndim == 2 else img[..., :3]
        path = folder / f"src-{name}.jpg"
        Image.fromarray(img.astype(np.uint8)).save(path, quality=92)
        sources.append(path)
    sources += FACE_API_PHOTOS.fetch(ROOT / ".venv" / "npm")
    out = []
    for i in range(count):
        out.append(folder / f"photo{i:03d}.jpg")
        shutil.copy(sources[i % len(sources)], out[-1])
    for path in sources:
        if path.parent == folder:
            path.unlink()
    return out


def bare(files: list[Path]) -> tuple[float, int]:
    from rapidocr import RapidOCR

    engine = RapidOCR(params={"Global.log_level": "error"})
    engine(str(files[0]))  # sessions loaded before the clock starts, as the stage's are
    start = time.perf_counter()
    lines = 0
    for path in files:
        result = engine(str(path))
        lines += len(getattr(result, "txts", None) or ())
    return time.perf_counter() - start, lines


def stage(files: list[Path], work: Path) -> tuple[float, int, int]:
    library = work / "library"
    library.mkdir(parents=True)
    for path in files:
        (library / path.name).hardlink_to(path)
    config = build_config({"storage": {"data_dir": str(work / "data")},
                           "pipeline": {"stages": ["hash", "meta", "text"]},
                           "model": {"auto_pull": False}})
    store = Store(config.data_dir)
    assembly = assemble(config, StageContext(config))
    text = assembly.get("text")
    assert text is not None and text.ready(), assembly.problems
    text.models.current().read(np.zeros((64, 64, 3), np.uint8))  # load sessions
    scan(store, [str(library)], config.library.extensions)
    start = time.perf_counter()
    Pipeline(store, assembly).run_sequential()
    elapsed = time.perf_counter() - start
    lines = with_text = 0
    for content in store.live_hashes():
        found = len((store.get_result(content, "text") or {}).get("lines") or [])
        lines += found
        with_text += found > 0
    for s in assembly.stages:
        s.close()
    store.close()
    return elapsed, lines, with_text


def one_kind_cost(files: list[Path]) -> float:
    """Seconds per photo through the local model (decode excluded)."""
    from anagnorisisd.ml.ocr import LocalText, wheel_files

    model = LocalText(wheel_files())
    rgbs = []
    for path in files:
        with Image.open(path) as img:
            img.thumbnail((1440, 1440))
            rgbs.append(np.asarray(img.convert("RGB")))
    model.read(rgbs[0])
    start = time.perf_counter()
    for rgb in rgbs:
        model.read(rgb)
    return (time.perf_counter() - start) / len(rgbs)


class StubModel:
    """The model the search service asks for a query's vector: a fixed one (see above)."""

    identity = "bench"

    def __init__(self, dim: int) -> None:
        self.vector = np.random.default_rng(9).normal(size=dim).astype(np.float32)
        self.vector /= np.linalg.norm(self.vector)

    def embed_text(self, text: str, language: str | None = None) -> np.ndarray:
        return self.vector


class StubModels:
    def __init__(self, model: StubModel) -> None:
        self.model = model

    def maybe_model(self) -> StubModel:
        return self.model


def queries_at(n: int, work: Path) -> dict[str, Any]:
    from bench.bench_index import vectors

    rng = np.random.default_rng(5)
    vocab = np.asarray(WORDS + [f"w{i}" for i in range(5000 - len(WORDS))])
    p = 1 / np.arange(1, len(vocab) + 1)
    p /= p.sum()
    ids = [i.to_bytes(32, "big") for i in range(n)]
    store = Store(work / "store")
    service = SearchService(store, StubModels(StubModel(512)), work / "index")  # type: ignore[arg-type]
    catalog = service.catalog  # made, never loaded: filled here
    for i, content in enumerate(ids):
        catalog.entries[content] = Entry(4000, 3000, 2_000_000 + i, "jpeg", described=True,
                                         thumbnailed=True)
    catalog.columns()
    data = np.asarray(vectors(n), dtype=np.float32)
    start = time.perf_counter()
    service.index.build("bench", ids, data)
    build_s = time.perf_counter() - start
    words = WordIndex(work / "words.sqlite")
    docs = []
    line_counts = rng.integers(1, 10, n)
    word_counts = rng.integers(2, 8, int(line_counts.sum()))
    drawn = iter(rng.choice(vocab, int(word_counts.sum()), p=p).tolist())
    lengths = iter(word_counts.tolist())
    for count in line_counts.tolist():
        docs.append([{"text": " ".join(next(drawn) for _ in range(next(lengths)))}
                     for _ in range(count)])
    start = time.perf_counter()
    words.sync(zip(ids, ({"lines": lines} for lines in docs), strict=True))
    index_s = time.perf_counter() - start
    service.words = words
    phrases = []
    for lines in docs[:200]:
        tokens = lines[0]["text"].split()
        at = int(rng.integers(0, max(1, len(tokens) - 1)))
        phrases.append(" ".join(tokens[at:at + 2]))
    out: dict[str, Any] = {"build_s": build_s, "words_s": index_s}
    for name, make in (("text:", lambda ph: f'text:"{ph}"'), ("hybrid", lambda ph: ph),
                       ("text: + filter", lambda ph: f'text:"{ph}" width>=3000')):
        latencies, totals = [], []
        for phrase in phrases:
            query = parse(make(phrase))
            begin = time.perf_counter()
            page = service.search(query, 1, 50)
            latencies.append(time.perf_counter() - begin)
            totals.append(page.total)
        out[name] = (float(np.percentile(latencies, 50) * 1000),
                     float(np.percentile(latencies, 95) * 1000), float(np.median(totals)))
    words.close()
    store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=24, help="text pages")
    parser.add_argument("--photos", type=int, default=96, help="photos without text")
    parser.add_argument("--items", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "pages").mkdir()
        (work / "photos").mkdir()
        text_files = pages(work / "pages", args.copies)
        photo_files = photos(work / "photos", args.photos)
        print(f"1. {len(text_files)} text pages (1080x1350 screenshots), 2 cores")
        bare_s, bare_lines = bare(text_files)
        stage_s, stage_lines, _ = stage(text_files, work / "a")
        print("| run | seconds | images/s | lines | ratio to bare |")
        print("|---|---:|---:|---:|---:|")
        print(f"| bare rapidocr | {bare_s:.1f} | {len(text_files) / bare_s:.2f} | {bare_lines} "
              "| 1.00 |")
        print(f"| hash + meta + text stage | {stage_s:.1f} | {len(text_files) / stage_s:.2f} "
              f"| {stage_lines} | {bare_s / stage_s:.2f} |")
        mix = photo_files + text_files[: max(1, len(photo_files) // 4)]
        print(f"\n2. a mix: {len(photo_files)} photos without text, "
              f"{len(mix) - len(photo_files)} pages")
        bare_s, _ = bare(mix)
        stage_s, _, with_text = stage(mix, work / "b")
        print("| run | seconds | images/s | ratio to bare |")
        print("|---|---:|---:|---:|")
        print(f"| bare rapidocr | {bare_s:.1f} | {len(mix) / bare_s:.2f} | 1.00 |")
        print(f"| hash + meta + text stage | {stage_s:.1f} | {len(mix) / stage_s:.2f} | "
              f"{bare_s / stage_s:.2f} |")
        none_s, some_s = one_kind_cost(photo_files[:12]), one_kind_cost(text_files[:12])
        print(f"photos found holding text: {with_text} of {len(mix)} "
              f"({len(photo_files)} photos without text read as without: "
              f"{'yes' if with_text == len(mix) - len(photo_files) else 'no'}); a photo "
              f"without text costs {none_s * 1000:.0f} ms, a page {some_s * 1000:.0f} ms")
        print(f"\n3. queries at {args.items:,} photos with text (page of 50)")
        result = queries_at(args.items, work / "c")
        print(f"vector index built in {result['build_s']:.1f} s; word index in "
              f"{result['words_s']:.1f} s")
        print("| query | p50 ms | p95 ms | median matches |")
        print("|---|---:|---:|---:|")
        for name in ("text:", "text: + filter", "hybrid"):
            p50, p95, total = result[name]
            print(f"| {name} | {p50:.1f} | {p95:.1f} | {total:,.0f} |")


if __name__ == "__main__":
    main()
