"""The compare view's paint latency per key press, in Chromium, with four 24 MP photos a
group.

Run: make bench-compare   (or: .venv/bin/python bench/bench_compare.py [--groups N])

A daemon indexes GROUPS bursts of four 24-megapixel JPEGs (6000 x 4000, two seconds
apart, each a slight reframing of the one before) with the shipped model; Chromium
(Debian's) opens the compare view on the first group and, each group's photos shown and
looked at for 1.5 s, presses the down arrow to go to the next. A press counts as painted
when every pane of the new group shows its decoded preview and two animation frames have
passed. The view fetches the next groups' previews while one is looked at; the same
group opened in a fresh page, with nothing fetched ahead in the browser (the daemon's
preview cache is warm by then), is the comparison.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from anagnorisisd.ml.manager import shipped_model_dir
from tests.helpers import Daemon, free_port, make_photo, wait_until, write_config
from tests.test_web_ui import CHROMIUM

PAINTED = """async ([key, before]) => {
  const start = performance.now();
  document.getElementById("compare").dispatchEvent(new KeyboardEvent("keydown",
    { key, bubbles: true }));
  for (;;) {
    const panes = [...document.querySelectorAll("[data-testid=compare-pane]")];
    const fresh = panes.length && !panes.some((p) => before.includes(p.dataset.id));
    const imgs = panes.map((p) => p.querySelector("img"));
    if (fresh && imgs.every((i) => i.complete && i.naturalWidth > 0)) break;
    await new Promise((r) => setTimeout(r, 2));
  }
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  return performance.now() - start;
}"""


LOADED = """() => { const ps = [...document.querySelectorAll('[data-testid=compare-pane] img')];
  return ps.length && ps.every(i => i.complete && i.naturalWidth > 0); }"""


def library(folder: Path, groups: int) -> None:
    for g in range(groups):
        scene = Image.open(make_photo(folder / f"scene-{g}.jpg", 6000, 4000, seed=100 + g))
        os.unlink(folder / f"scene-{g}.jpg")
        for k in range(4):
            shot = folder / f"g{g:02d}-{k}.jpg"
            scene.crop((6 * k, 4 * k, 6000 - 6 * k, 4000 - 4 * k)).resize((6000, 4000)).save(
                shot, quality=90)
            when = 1_600_000_000 + 3600 * g + 2 * k
            os.utime(shot, (when, when))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=8)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        lib = Path(tmp) / "library"
        lib.mkdir()
        library(lib, args.groups)
        shutil.copytree(shipped_model_dir("shapes-clip-mini"),
                        Path(tmp) / "data" / "models" / "shapes-clip-mini")
        config = write_config(Path(tmp) / "config.toml", {
            "library": {"paths": [str(lib)]}, "storage": {"data_dir": str(Path(tmp) / "data")},
            "server": {"port": free_port()},
            "model": {"name": "shapes-clip-mini", "auto_pull": False},
            "pipeline": {"stages": ["hash", "meta", "thumbnail", "quality", "clip"]},
            "index": {"check_interval_s": 1, "min_rebuild_interval_s": 0,
                      "duplicate_threshold": 0.9999},  # the shipped model's cosine would
            "stacks": {"gap_s": 10, "similarity": 0.9}})   # join the scenes as duplicates
        daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
        try:
            wait_until(lambda: len(daemon.request("GET", "/api/cull")["groups"]) == args.groups,
                       timeout=900, interval=1)
            warm, cold = measure(f"http://127.0.0.1:{daemon.port}", args.groups,
                                 sync_playwright)
        finally:
            daemon.kill()
    print(f"\ncompare view, {args.groups} groups of four 24 MP JPEGs, Chromium "
          f"{os.cpu_count()} cores\n")
    print("| key press to painted | p50 ms | p95 ms | presses |")
    print("|---|---:|---:|---:|")
    for name, times in (("next group, fetched ahead (the view)", warm),
                        ("a group opened with nothing fetched ahead", cold)):
        print(f"| {name} | {np.percentile(times, 50):.0f} | {np.percentile(times, 95):.0f} "
              f"| {len(times)} |")
    print("\nEach press, in order (ms): " + ", ".join(f"{t:.0f}" for t in warm))
    print("Goal: p95 under 100 ms for the next group.")


def measure(base: str, groups: int, playwright: object) -> tuple[list[float], list[float]]:
    warm: list[float] = []
    cold: list[float] = []
    with playwright() as pw:  # type: ignore[operator]
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(base + "/?q=cull")
            page.get_by_test_id("cull-open").first.click()
            page.get_by_test_id("compare-pane").first.wait_for()
            for _ in range(groups - 1):
                shown = page.eval_on_selector_all("[data-testid=compare-pane]",
                                                  "ps => ps.map(p => p.dataset.id)")
                page.wait_for_function(LOADED, timeout=120_000)
                page.wait_for_timeout(1500)  # a person looks at the photos, then moves on
                warm.append(page.evaluate(PAINTED, ["ArrowDown", shown]))
            for n in range(groups):  # the comparison: each group opened cold, in a new page
                fresh = browser.new_page(viewport={"width": 1600, "height": 1000})
                fresh.route("**/api/images/*/preview*", lambda route: route.continue_(
                    headers={**route.request.headers, "cache-control": "no-cache"}))
                fresh.goto(base + "/?q=cull")
                fresh.get_by_test_id("cull-open").nth(n).wait_for()
                start = fresh.evaluate("performance.now()")
                fresh.get_by_test_id("cull-open").nth(n).click()
                fresh.wait_for_function(LOADED, timeout=120_000)
                cold.append(fresh.evaluate("performance.now()") - start)
                fresh.close()
        finally:
            browser.close()
    return warm, cold


if __name__ == "__main__":
    main()
