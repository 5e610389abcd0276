"""Finding photos by their words, through a real daemon: the text stage with the wheel's
real weights, the FTS5 index, the query routes, the CLI, a restart with the index deleted,
and the same text read through a loopback immich worker (tests/immich_ml_worker.py, which
runs rapidocr's own end-to-end call)."""

from __future__ import annotations

import shutil
import tomllib
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from anagnorisisd.store.database import Store
from tests.helpers import Daemon, Worker, free_port, http_error, run_cli, wait_until, write_config
from tests.test_text import NO_TEXT, PAGES, render_pages, skimage_rgb

PHRASES = {  # what a person would type, and the page that says it
    "wifi password": "wifi", "sunflower42": "wifi", "lighthouse": "wifi",
    "bauhaus": "receipt", "summe 12,47": "receipt", "dubel": "receipt",
    "creme brulee": "menu", "soupe": "menu", "cafe pecheur": "menu",
    "region-based segmentation": "page", "grey values": "page",
}


def build_library(root: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    files = render_pages(root)
    files["page"] = root / "page.png"
    Image.fromarray(skimage_rgb("page")).save(files["page"])
    for name in NO_TEXT[:3]:
        files[name] = root / f"{name}.jpg"
        Image.fromarray(skimage_rgb(name)).save(files[name], quality=92)
    return files


def start(tmp_path: Path, **text: Any) -> Daemon:
    model: dict[str, Any] = {"auto_pull": False}
    if text.get("backend") == "remote":
        model["remote_urls"] = text.pop("urls")
    config = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(tmp_path / "library")]},
        "storage": {"data_dir": str(tmp_path / "data")}, "server": {"port": free_port()},
        "pipeline": {"stages": ["hash", "meta", "thumbnail", "text"]},
        "watcher": {"debounce_s": 0.2, "settle_s": 0.2}, "model": model,
        **({"stages.text": text} if text else {})})
    return Daemon(config, tomllib.loads(config.read_text())["server"]["port"])


def read_all(daemon: Daemon, count: int) -> dict[str, Any]:
    """Status once the text stage has read every photo (it runs after the rest)."""
    return dict(wait_until(lambda: (s := daemon.status())["stages"]["text"]["done"] == count
                           and s, timeout=240, interval=0.3))


def find(daemon: Daemon, q: str) -> dict[str, Any]:
    return dict(daemon.request("GET", "/api/images?per_page=50&q=" + urllib.parse.quote(q)))


def names(result: dict[str, Any]) -> list[str]:
    return [Path(item["path"]).stem for item in result["items"]]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("text-search")
    files = build_library(tmp / "library")
    daemon = start(tmp)
    try:
        status = read_all(daemon, len(files))
        yield daemon, files, status, tmp
    finally:
        daemon.kill()


def test_phrases_find_the_photo_that_says_them(indexed: Any) -> None:
    daemon, _, status, _ = indexed
    assert status["stages"]["text"]["failed"] == 0 and status["stages"]["text"]["background"]
    found = relevant = retrieved = 0
    for phrase, page in PHRASES.items():
        got = names(find(daemon, f'text:"{phrase}"'))
        retrieved += len(got)
        relevant += 1
        found += page in got
        assert got == [page], (phrase, got)
    precision, recall = found / retrieved, found / relevant
    assert precision == 1.0 and recall == 1.0
    assert sorted(names(find(daemon, "has:text"))) == sorted(["wifi", "receipt", "menu",
                                                              "page"])
    assert names(find(daemon, 'text:"sunfl0wer"')) == ["wifi"]  # an OCR slip forgiven
    assert names(find(daemon, 'text:"lightho"')) == ["wifi"]  # a prefix
    assert names(find(daemon, 'text:"password wifi"')) == []  # a phrase keeps its order
    assert names(find(daemon, 'text:"bauhaus" has:text width>=100')) == ["receipt"]


def test_free_text_finds_the_words_and_shows_them(indexed: Any) -> None:
    daemon, *_ = indexed
    result = find(daemon, "wifi password")  # no CLIP stage here: by the words alone
    assert names(result)[:1] == ["wifi"]
    assert result["items"][0]["matched_text"] == ["Wifi password: sunflower42"]
    assert "words" in result.get("notice", "")
    status, body = http_error(daemon, "GET", "/api/images?q=" + urllib.parse.quote('text:""'))
    assert status == 400 and "text:" in body["error"]


def test_the_lines_of_a_photo_have_boxes_on_the_upright_photo(indexed: Any) -> None:
    daemon, files, *_ = indexed
    listed = {Path(i["path"]).stem: i for i in find(daemon, "has:text")["items"]}
    receipt = daemon.request("GET", f"/api/images/{listed['receipt']['id']}/text")
    assert receipt["state"] == "read"
    assert [line["text"] for line in receipt["lines"]] == PAGES["receipt"]
    with Image.open(files["receipt"]) as img:
        width, height = img.size
    for line in receipt["lines"]:
        x1, y1, x2, y2 = line["box"]
        assert 0 <= x1 < x2 <= width and 0 <= y1 < y2 <= height and line["score"] >= 0.9
    everything = find(daemon, "")["items"]
    photo = next(i for i in everything if Path(i["path"]).stem == NO_TEXT[0])
    assert daemon.request("GET", f"/api/images/{photo['id']}/text")["lines"] == []
    status, _ = http_error(daemon, "GET", "/api/images/" + "ab" * 32 + "/text")
    assert status == 404


def test_the_cli_searches_words(indexed: Any) -> None:
    daemon, files, *_ = indexed
    result = run_cli("search", 'text:"bauhaus"', "--config", str(daemon.config))
    assert result.returncode == 0 and str(files["receipt"]) in result.stdout, result.stderr


def test_the_index_comes_back_from_the_store_and_follows_the_library(tmp_path: Path) -> None:
    (tmp_path / "library").mkdir()
    files = render_pages(tmp_path / "library")
    daemon = start(tmp_path)
    try:
        read_all(daemon, len(files))
        assert names(find(daemon, 'text:"creme brulee"')) == ["menu"]
    finally:
        daemon.stop()
    for path in tmp_path.glob("data/index/words.sqlite*"):
        path.unlink()  # derived data: rebuilt from the store at the next start
    again = Daemon(daemon.config, daemon.port)
    try:
        wait_until(lambda: names(find(again, 'text:"creme brulee"')) == ["menu"], timeout=60)
        files["menu"].unlink()  # gone from the library: gone from the results
        wait_until(lambda: names(find(again, 'text:"creme brulee"')) == [], timeout=60)
        assert sorted(names(find(again, "has:text"))) == ["receipt", "wifi"]
    finally:
        again.kill()


def test_the_viewer_draws_the_lines_and_the_grid_says_why_in_chromium(indexed: Any) -> None:
    from urllib.parse import quote

    from playwright.sync_api import sync_playwright

    from tests.test_web_ui import CHROMIUM, serious_violations

    daemon, files, *_ = indexed
    base = f"http://127.0.0.1:{daemon.port}"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(base + "/?q=" + quote('text:"summe"'))
            tile = page.get_by_test_id("result-tile")
            tile.first.wait_for()
            assert tile.count() == 1
            assert "Summe 12,47 EUR" in page.get_by_test_id("tile-text").inner_text()
            tile.first.locator("button.open").click()
            page.get_by_test_id("viewer").wait_for()
            page.wait_for_function("() => document.getElementById('viewer-image').complete")
            page.keyboard.press("t")
            boxes = page.get_by_test_id("text-box")
            boxes.nth(len(PAGES["receipt"]) - 1).wait_for()
            assert boxes.count() == len(PAGES["receipt"])
            listed = page.get_by_test_id("viewer-lines").locator("li")
            assert listed.all_inner_texts() == PAGES["receipt"]
            assert serious_violations(page) == []
            lines = daemon.request("GET", "/api/images/" + tile.first.get_attribute(
                "data-id") + "/text")["lines"]  # type: ignore[operator]
            image = page.locator("#viewer-image").bounding_box()
            assert image is not None
            with Image.open(files["receipt"]) as img:
                width = img.width
            for i, line in enumerate(lines):  # each box where the stored one is, scaled
                box = boxes.nth(i).bounding_box()
                assert box is not None
                assert abs(box["x"] - (image["x"] + line["box"][0] * image["width"] / width)) < 3
            boxes.first.dblclick()  # a line's words can be selected, to copy
            assert page.evaluate("() => String(window.getSelection())").strip() in \
                PAGES["receipt"][0]
        finally:
            browser.close()


def test_a_worker_reads_the_same_text_and_a_lying_one_fails_nothing(tmp_path: Path) -> None:
    """immich does not serve the wheel's PP-OCRv6_small: its workers are asked for immich's
    own default, PP-OCRv5_mobile (this loopback worker reads with the wheel's weights)."""
    files = build_library(tmp_path / "library")
    worker = Worker("normal", 0.0, None, "--ocr", "PP-OCRv5_mobile")
    daemon = start(tmp_path, backend="remote", urls=[worker.url])
    try:
        status = read_all(daemon, len(files))
        assert status["stages"]["text"]["failed"] == 0 and worker.stats()["ocr"] >= len(files)
    finally:
        daemon.kill()
        worker.kill()
    store = Store(tmp_path / "data", readonly=True)
    try:
        by_name = {Path(store.paths_for(c)[0]).stem: store.get_result(c, "text")
                   for c in store.live_hashes()}
    finally:
        store.close()
    for name, lines in PAGES.items():
        output = by_name[name]
        assert output is not None and output["model"] == "PP-OCRv5_mobile@remote"
        assert [line["text"] for line in output["lines"]] == lines, name
    assert all(not by_name[name]["lines"] for name in NO_TEXT[:3])  # type: ignore[index]
    shutil.rmtree(tmp_path / "data")
    liar = Worker("garbage", 0.0, None, "--ocr", "PP-OCRv5_mobile")
    daemon = start(tmp_path, backend="remote", urls=[liar.url])
    try:
        problem = wait_until(lambda: daemon.status()["stages"]["text"]["model"].get(
            "workers", [{}])[0].get("last_error"), timeout=120)
        assert "must match" in problem
        assert daemon.status()["stages"]["text"]["failed"] == 0
    finally:
        daemon.kill()
        liar.kill()
