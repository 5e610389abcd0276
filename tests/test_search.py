"""Search end to end: the small model, a generated library, the real HTTP API and the CLI."""

from __future__ import annotations

import io
import itertools
import json
import shutil
import threading
import tomllib
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from anagnorisisd.app.shapes import draw, make_library, random_scene
from anagnorisisd.ml.manager import shipped_model_dir
from tests.helpers import Daemon, http_error, make_photo, run_cli, wait_until

MINI = shipped_model_dir("shapes-clip-mini")
N = 160  # five pictures of each of the 32 colour+shape classes


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, Path, dict]]:
    root = tmp_path_factory.mktemp("search")
    library = root / "library"
    scenes = make_library(library, N, seed=31_337, every_class=True)
    shutil.copytree(MINI, root / "data" / "models" / "shapes-clip-mini")
    from tests.helpers import free_port, write_config

    config = write_config(root / "config.toml", {
        "library": {"paths": [str(library)]}, "storage": {"data_dir": str(root / "data")},
        "server": {"port": free_port()}, "watcher": {"debounce_s": 0.2, "settle_s": 0.2},
        "model": {"name": "shapes-clip-mini", "auto_pull": False},
        "index": {"check_interval_s": 1, "min_rebuild_interval_s": 0},
    })
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    labels = {str(p): s.label for p, s in scenes}
    wait_until(lambda: daemon.status()["stages"]["clip"]["done"] == N, timeout=60)
    wait_until(lambda: daemon.status()["index"]["items"] == N, timeout=30)
    yield daemon, library, labels
    daemon.kill()


def images(daemon: Daemon, q: str = "", **params: object) -> dict:
    query = urllib.parse.urlencode({"q": q, **params})
    return dict(daemon.request("GET", f"/api/images?{query}"))


def label_of(labels: dict, item: dict) -> str:
    return labels[item["path"]]


def test_text_search_finds_the_right_pictures(served) -> None:  # type: ignore[no-untyped-def]
    daemon, _, labels = served
    result = images(daemon, "a photo of a red circle", per_page=3)
    assert [label_of(labels, i) for i in result["items"]] == ["red circle"] * 3
    assert result["items"][0]["score"] >= result["items"][1]["score"]
    result = images(daemon, "blue star", per_page=3)
    assert [label_of(labels, i) for i in result["items"]] == ["blue star"] * 3


def test_filters_combine_with_text(served) -> None:  # type: ignore[no-untyped-def]
    daemon, _, labels = served
    for item in images(daemon, "width>=300 ratio<1", per_page=500)["items"]:
        assert item["width"] >= 300 and item["width"] / item["height"] < 1
    everything = images(daemon, "", per_page=500)["items"]
    small = [i for i in everything if i["file_size"] < 8000]
    assert {i["id"] for i in images(daemon, "size<8KB", per_page=500)["items"]} == {
        i["id"] for i in small}
    wide = images(daemon, "green square ratio>1.2 pixels>=0.05MP", per_page=2)["items"]
    assert wide and all(i["width"] / i["height"] > 1.2 and i["width"] * i["height"] >= 50_000
                        for i in wide)
    assert label_of(labels, wide[0]) == "green square"
    assert images(daemon, "format=png")["total"] == 0
    assert images(daemon, "format=jpg")["total"] == N


@pytest.mark.parametrize(("keyword", "key"), [
    ("file-size", lambda i: i["file_size"]),
    ("proportion", lambda i: i["width"] / i["height"]),
    ("resolution", lambda i: i["width"] * i["height"]),
])
def test_sort_keywords_and_order(served, keyword, key) -> None:  # type: ignore[no-untyped-def]
    daemon, _, _ = served
    descending = [key(i) for i in images(daemon, keyword, per_page=500)["items"]]
    assert len(descending) == N and descending == sorted(descending, reverse=True)
    ascending = [key(i) for i in images(daemon, keyword, per_page=500, order="asc")["items"]]
    assert ascending == sorted(ascending)
    assert [key(i) for i in images(daemon, f"{keyword} order:asc", per_page=500)["items"]] == \
        ascending


def test_random_is_stable_per_seed_across_pages(served) -> None:  # type: ignore[no-untyped-def]
    daemon, _, _ = served
    whole = [i["id"] for i in images(daemon, "random", seed=7, per_page=N)["items"]]
    paged = [i["id"] for page in range(1, N // 32 + 1) for i in
             images(daemon, "random", seed=7, per_page=32, page=page)["items"]][:N]
    assert paged == whole and len(set(whole)) == N
    other = [i["id"] for i in images(daemon, "random", seed=8, per_page=N)["items"]]
    assert other != whole and sorted(other) == sorted(whole)


def test_similar_and_similarity_order(served) -> None:  # type: ignore[no-untyped-def]
    daemon, _, labels = served
    first = images(daemon, "a photo of a yellow triangle", per_page=1)["items"][0]
    similar = daemon.request("GET", f"/api/images/{first['id']}/similar?per_page=4")["items"]
    assert first["id"] not in [i["id"] for i in similar]
    assert sum(label_of(labels, i) == "yellow triangle" for i in similar) >= 3
    via_query = images(daemon, f"similar:{first['id']}", per_page=4)["items"]
    assert [i["id"] for i in via_query] == [i["id"] for i in similar]
    order = [label_of(labels, i) for i in images(daemon, "similarity", per_page=500)["items"]]
    assert len(order) == N
    adjacent = np.mean([a == b for a, b in itertools.pairwise(order)])
    assert adjacent >= 0.5, adjacent  # random order would give about 1/32


def test_search_by_an_image_not_in_the_library(served) -> None:  # type: ignore[no-untyped-def]
    daemon, _, labels = served
    rng = np.random.default_rng(4242)
    scene = random_scene(rng, 200, 300)
    buf = io.BytesIO()
    draw(scene, rng).save(buf, "JPEG")
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{daemon.port}/api/search/by-image?per_page=5", data=buf.getvalue(),
        method="POST", headers={"Content-Type": "image/jpeg"})
    with urllib.request.urlopen(request) as response:
        items = json.load(response)["items"]
    assert sum(label_of(labels, i) == scene.label for i in items) >= 4
    code, body = http_error(daemon, "POST", "/api/search/by-image", b"not an image")
    assert code == 422 and "not an image" in body["error"]


def test_malformed_filter_is_a_400_pointing_at_the_token(served) -> None:  # type: ignore[no-untyped-def]
    daemon, _, _ = served
    code, body = http_error(daemon, "GET", "/api/images?" + urllib.parse.urlencode(
        {"q": "sunset rating>=eleven"}))
    assert code == 400
    assert body["token"] == "rating>=eleven" and body["position"] == 7
    code, body = http_error(daemon, "GET", "/api/images?per_page=0")
    assert code == 400 and "per_page" in body["error"]


def test_files_and_thumbnails_are_served_by_id_only(served) -> None:  # type: ignore[no-untyped-def]
    daemon, _library, _ = served
    item = images(daemon, "", per_page=1)["items"][0]
    import urllib.request

    base = f"http://127.0.0.1:{daemon.port}/api/images/{item['id']}"
    with urllib.request.urlopen(base + "/file") as response:
        assert response.headers["Content-Type"] == "image/jpeg"
        assert response.read() == Path(item["path"]).read_bytes()
    request = urllib.request.Request(base + "/file", headers={"Range": "bytes=0-9"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 206 and response.read() == Path(item["path"]).read_bytes()[:10]
    with urllib.request.urlopen(base + "/thumbnail") as response:
        thumb = Image.open(io.BytesIO(response.read()))
        assert max(thumb.size) <= 320
    details = daemon.request("GET", f"/api/images/{item['id']}")
    assert details["path"] == item["path"] and details["stages"]["clip"]["version"]
    clip = details["stages"]["clip"]["output"]
    assert clip["embedding"] == {"bytes": 2 * clip["dim"]}  # float16, shown as its length
    assert details["stages"]["meta"]["output"]["width"] == item["width"]
    for bad in ("../../etc/passwd", "0" * 64, "zz"):
        code, _ = http_error(daemon, "GET", f"/api/images/{bad}/file")
        assert code == 404


def test_new_files_become_searchable_and_deleted_ones_disappear(served) -> None:  # type: ignore[no-untyped-def]
    daemon, library, _ = served
    rng = np.random.default_rng(777)
    scene = random_scene(rng, 200, 300)
    scene = type(scene)(**{**scene.__dict__, "colour": "purple", "shape": "star",
                           "background": "white"})
    path = library / "new" / "late-purple-star.jpg"
    path.parent.mkdir()
    draw(scene, rng).save(path, "JPEG")
    wait_until(lambda: any(i["path"] == str(path) for i in
                           images(daemon, "a photo of a purple star", per_page=10)["items"]),
               timeout=15)
    path.unlink()
    wait_until(lambda: all(i["path"] != str(path) for i in
                           images(daemon, "a photo of a purple star", per_page=10)["items"]),
               timeout=10)
    assert images(daemon, "")["total"] == N


def test_duplicates_exact_and_near_with_a_keeper(served) -> None:  # type: ignore[no-untyped-def]
    daemon, library, labels = served
    original = next(p for p in library.rglob("*.jpg") if labels[str(p)] == "orange circle")
    copy = library / "copies" / "copy.jpg"
    copy.parent.mkdir()
    shutil.copy(original, copy)
    img = Image.open(original)
    smaller = library / "copies" / "smaller.jpg"
    img.resize((img.width // 2, img.height // 2)).save(smaller, quality=70)
    wait_until(lambda: daemon.status()["files"]["total"] == N + 2
               and daemon.status()["queue"]["queued"] == 0, timeout=15)
    wait_until(lambda: daemon.status()["index"]["fresh"] == 0, timeout=15)
    # The small model sees little but colour and shape, so near-duplicates need a high bar.
    groups = daemon.request("GET", "/api/duplicates?threshold=0.995")["groups"]
    mine = [g for g in groups if str(copy) in [f["path"] for f in g["files"]]]
    assert len(mine) == 1
    paths = {f["path"] for f in mine[0]["files"]}
    assert paths == {str(original), str(copy), str(smaller)}
    assert mine[0]["kind"] == "near"
    assert mine[0]["keeper"]["path"] in (str(original), str(copy))  # the larger, not the copy
    assert len([f for f in mine[0]["files"] if f["id"] == mine[0]["keeper"]["id"]]) == 2
    strict = daemon.request("GET", "/api/duplicates?threshold=1.0")["groups"]
    exact = [g for g in strict if str(copy) in [f["path"] for f in g["files"]]]
    assert exact and exact[0]["kind"] == "exact"
    assert {f["path"] for f in exact[0]["files"]} == {str(original), str(copy)}
    code, _ = http_error(daemon, "GET", "/api/duplicates?threshold=2")
    assert code == 400
    copy.unlink()
    smaller.unlink()
    wait_until(lambda: daemon.status()["files"]["total"] == N)


def test_rebuilds_during_a_stream_of_queries_cause_no_errors(served) -> None:  # type: ignore[no-untyped-def]
    daemon, library, _ = served
    errors: list[BaseException] = []
    stop = threading.Event()

    def query_forever() -> None:
        while not stop.is_set():
            try:
                assert images(daemon, "red square", per_page=5)["items"]
                images(daemon, "similarity", per_page=5)
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=query_forever) for _ in range(2)]
    for t in threads:
        t.start()
    built_before = daemon.status()["index"]["built_at"]
    for i in range(6):
        make_photo(library / "stream" / f"{i}.jpg", 120, 90, seed=900 + i)
    wait_until(lambda: daemon.status()["index"]["built_at"] != built_before
               and daemon.status()["index"]["fresh"] == 0, timeout=30)
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    shutil.rmtree(library / "stream")
    wait_until(lambda: daemon.status()["files"]["total"] == N)


def test_a_relevance_cutoff_stops_where_the_scores_fall_off(served) -> None:  # type: ignore[no-untyped-def]
    daemon = served[0]
    everything = daemon.request("GET", "/api/images?q=a%20red%20circle&per_page=500")
    scores = [i["score"] for i in everything["items"]]
    assert scores == sorted(scores, reverse=True)
    cut = scores[len(scores) // 4]
    some = daemon.request("GET", f"/api/images?q=a%20red%20circle%20score>={cut}&per_page=500")
    assert 0 < some["total"] < everything["total"]
    assert all(i["score"] >= cut for i in some["items"])
    code, body = http_error(daemon, "GET", "/api/images?q=score>=0.3")
    assert code == 400 and "free text" in body["error"]
    code, body = http_error(daemon, "GET", "/api/images?q=dog%20score>=2")
    assert code == 400 and "-1 to 1" in body["error"]


def test_words_searched_by_meaning_say_how_many_match_strongly(served) -> None:  # type: ignore[no-untyped-def]
    """A search by meaning ranks the whole library; the answer says how many of it stand
    out (they come first), so "299 images for 'parking'" is not all it says."""
    daemon, _, labels = served
    result = images(daemon, "a photo of a red circle", per_page=500)
    strong = result["strong"]
    # (the whole library, as the approximate index finds it: a few may be missed)
    assert 0 < strong < result["total"] <= N
    circles = sum(label == "red circle" for label in labels.values())
    top = [label_of(labels, i) for i in result["items"][:strong]]
    assert top.count("red circle") >= 0.8 * len(top)  # the strong ones are red circles
    assert strong <= 2 * circles  # and not half the library
    assert images(daemon, "a dog")["strong"] == 0  # nothing here is: said so
    assert "strong" not in images(daemon, "width>=10")  # no words, nothing to stand out
    assert "strong" not in images(daemon, f"similar:{result['items'][0]['id']}")


def test_cli_search_with_and_without_the_daemon(served) -> None:  # type: ignore[no-untyped-def]
    daemon, _, labels = served
    config = str(daemon.config)
    live = json.loads(run_cli("search", "a photo of a white square", "--limit", "3", "--json",
                              "--config", config).stdout)
    assert [labels[i["path"]] for i in live["items"]] == ["white square"] * 3
    bad = run_cli("search", "rating>=eleven", "--config", config)
    assert bad.returncode == 2 and "rating>=eleven" in bad.stderr
    assert daemon.stop() == 0
    offline = json.loads(run_cli("search", "a photo of a white square", "--limit", "3", "--json",
                                 "--config", config).stdout)
    assert [i["id"] for i in offline["items"]] == [i["id"] for i in live["items"]]
    text = run_cli("search", "file-size", "--limit", "2", "--config", config).stdout
    assert text.startswith(f"{N} results, showing 2")


def test_small_indexes_search_exactly_and_large_ones_through_annoy(tmp_path: Path) -> None:
    """Below `exact_below` the index answers with the true nearest neighbours (what a brute
    force over every vector gives); at or above it, Annoy answers."""
    from anagnorisisd.search.index import VectorIndex

    rng = np.random.default_rng(5)
    data = rng.normal(size=(3000, 32)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    data = data.astype(np.float16).astype(np.float32)  # as the store holds them
    ids = [i.to_bytes(32, "big") for i in range(len(data))]
    exact = VectorIndex(tmp_path / "exact", n_trees=2, search_k=50, exact_below=3000)
    exact.build("m", ids, data)
    approximate = VectorIndex(tmp_path / "annoy", n_trees=2, search_k=50, exact_below=2999)
    approximate.build("m", ids, data)
    assert exact.status()["exact"] and not approximate.status()["exact"]
    misses = 0
    for query in data[:50] + rng.normal(0, 0.05, (50, 32)).astype(np.float32):
        query = query / np.linalg.norm(query)
        truth = [ids[i] for i in np.argsort(-(data @ query))[:10]]
        assert [c for c, _ in exact.search(query, 10)] == truth
        misses += len(set(truth) - {c for c, _ in approximate.search(query, 10)})
    assert misses > 0  # two small trees and a tiny search_k do miss: the modes really differ
