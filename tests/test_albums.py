"""Albums, smart albums and memories through the real daemon: a manual album kept by
content survives a rename and a kill -9; a smart album follows its query live through
ratings and new files; memories rank by the person's ratings and fold near-duplicates;
an export is byte-identical and never overwrites; the panel in Chromium with axe-core."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest
from blake3 import blake3
from PIL import Image

from anagnorisisd.ml.manager import shipped_model_dir
from tests.helpers import (
    Daemon,
    chromium_page,
    free_port,
    http_error,
    make_photo,
    run_cli,
    taken_at,
    wait_until,
    write_config,
)

MINI = shipped_model_dir("shapes-clip-mini")


def when(day: str, hour: int = 12) -> float:
    return dt.datetime.fromisoformat(f"{day}T{hour:02d}:00:00+00:00").timestamp()


def idof(path: Path) -> str:
    return blake3(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("albums")
    library = root / "library"
    photos = {}
    for i in range(8):
        photos[f"p{i}"] = make_photo(library / f"p{i}.jpg", 320, 240, seed=100 + i)
    # Memories: 7 December 2023 (a photo, and the same shot saved twice more), 2020, and
    # 8 December 2023 (another day).
    photos["dec7a"] = taken_at(make_photo(library / "dec7a.jpg", 320, 240, seed=7), when(
        "2023-12-07", 10))
    photos["dec7b"] = taken_at(make_photo(library / "dec7b.jpg", 320, 240, seed=7,
                                          quality=80), when("2023-12-07", 10))
    photos["dec7c"] = taken_at(make_photo(library / "dec7c.jpg", 320, 240, seed=71),
                               when("2023-12-07", 15))
    photos["old"] = taken_at(make_photo(library / "old.jpg", 320, 240, seed=20),
                             when("2020-12-07"))
    photos["dec8"] = taken_at(make_photo(library / "dec8.jpg", 320, 240, seed=8),
                              when("2023-12-08"))
    (library / "p0.jpg.xmp").write_text('<x:xmpmeta xmlns:x="adobe:ns:meta/"/>\n')
    shutil.copytree(MINI, root / "data" / "models" / "shapes-clip-mini")
    config = write_config(root / "config.toml", {
        "library": {"paths": [str(library)]}, "storage": {"data_dir": str(root / "data")},
        "server": {"port": free_port()}, "watcher": {"debounce_s": 0.2, "settle_s": 0.2},
        "pipeline": {"stages": ["hash", "meta", "thumbnail", "clip"]},
        "model": {"name": "shapes-clip-mini", "auto_pull": False},
        "index": {"check_interval_s": 1, "min_rebuild_interval_s": 0},
    })
    state: dict[str, Any] = {"root": root, "library": library, "photos": photos,
                             "config": config}
    state["daemon"] = start(config)
    settled(state, len(photos))
    yield state
    state["daemon"].kill()


def start(config: Path) -> Daemon:
    return Daemon(config, tomllib.loads(config.read_text())["server"]["port"])


def settled(state: dict[str, Any], count: int) -> None:
    daemon = state["daemon"]
    wait_until(lambda: daemon.request("GET", "/api/images?per_page=1")["total"] == count
               and not daemon.status()["files"].get("pending"), timeout=120, interval=0.2)


def album_ids(daemon: Daemon, name: str) -> set[str]:
    query = f'album:"{name}"'
    from urllib.parse import quote
    return {i["id"] for i in daemon.request(
        "GET", f"/api/images?per_page=100&q={quote(query)}")["items"]}


def test_a_manual_album_keeps_its_photos_by_content_through_a_rename_and_a_kill(
        world: dict[str, Any]) -> None:
    daemon, photos = world["daemon"], world["photos"]
    status, album = daemon.call("POST", "/api/albums", {"name": "Lisbon  2024"})
    assert status == 201 and album["name"] == "Lisbon 2024" and album["count"] == 0
    assert album["query"] is None and album["cover"] is None
    assert http_error(daemon, "POST", "/api/albums", {"name": "lisbon 2024"}) == (
        409, {"error": 'there is already an album named "Lisbon 2024"'})
    assert http_error(daemon, "POST", "/api/albums", {"name": " "})[0] == 400
    assert http_error(daemon, "POST", "/api/albums", {"name": 'a "b"'})[0] == 400
    ids = [idof(photos[k]) for k in ("p1", "p2", "p3")]
    aid = album["id"]
    after = daemon.request("POST", f"/api/albums/{aid}/photos", {"add": ids})
    assert after["count"] == 3 and after["cover"] in ids
    assert http_error(daemon, "POST", f"/api/albums/{aid}/photos",
                      {"add": ["0" * 64]}) == (400, {
                          "error": f"no image {'0' * 64} in the library"})
    assert http_error(daemon, "POST", "/api/albums/000000000000/photos",
                      {"add": ids})[0] == 404
    assert album_ids(daemon, "lisbon 2024") == set(ids)
    from urllib.parse import quote
    rest = daemon.request("GET", "/api/images?per_page=100&q=" + quote('-album:"Lisbon 2024"'))
    assert rest["total"] == len(photos) - 3 and not set(ids) & {i["id"] for i in rest["items"]}
    code, body = http_error(daemon, "GET", "/api/images?q=" + quote('album:"Nowhere"'))
    assert code == 400 and "no album named" in body["error"]
    assert daemon.request("GET", f"/api/images/{ids[0]}")["albums"] == ["Lisbon 2024"]

    # Renamed on disk: the same content, still in the album; then a kill -9 loses nothing.
    moved = world["library"] / "renamed-p1.jpg"
    photos["p1"].rename(moved)
    photos["p1"] = moved
    wait_until(lambda: daemon.request("GET", f"/api/images/{ids[0]}")["path"] == str(moved),
               timeout=30)
    daemon.request("POST", f"/api/albums/{aid}/photos", {"remove": [ids[2]]})
    daemon.kill()
    world["daemon"] = daemon = start(world["config"])
    assert album_ids(daemon, "Lisbon 2024") == set(ids[:2])
    assert daemon.request("GET", f"/api/albums/{aid}")["count"] == 2

    # Deleting the album never touches a photo.
    daemon.request("DELETE", f"/api/albums/{aid}")
    assert http_error(daemon, "GET", f"/api/albums/{aid}")[0] == 404
    assert all(p.exists() for p in photos.values())
    assert daemon.request("GET", f"/api/images/{ids[0]}")["albums"] == []


def test_a_smart_album_follows_its_query_through_ratings_and_new_files(
        world: dict[str, Any]) -> None:
    daemon, photos = world["daemon"], world["photos"]
    code, body = http_error(daemon, "POST", "/api/albums", {"name": "Best", "query": "rating>>7"})
    assert code == 400 and body["error"].startswith("the query: ") and "\n" not in body["error"]
    code, body = http_error(daemon, "POST", "/api/albums", {"name": "Me",
                                                            "query": 'album:"me" rating>=1'})
    assert code == 400 and "itself" in body["error"]
    best = daemon.request("POST", "/api/albums", {"name": "Best", "query": "rating>=7"})
    assert best["query"] == "rating>=7" and best["count"] == 0
    assert http_error(daemon, "POST", f"/api/albums/{best['id']}/photos",
                      {"add": [idof(photos["p4"])]})[0] == 409
    p4, p5 = idof(photos["p4"]), idof(photos["p5"])
    daemon.request("PUT", f"/api/images/{p4}/rating", {"rating": 8})
    wait_until(lambda: album_ids(daemon, "Best") == {p4}, timeout=15)
    assert wait_until(lambda: daemon.request("GET", f"/api/albums/{best['id']}")["count"] == 1,
                      timeout=15)
    daemon.request("PUT", f"/api/images/{p5}/rating", {"rating": 9})
    daemon.request("PUT", f"/api/images/{p4}/rating", {"rating": 3})
    wait_until(lambda: album_ids(daemon, "Best") == {p5}, timeout=15)

    # A new file that matches comes in by itself.
    png = daemon.request("POST", "/api/albums", {"name": "Screenshots",
                                                 "query": "format=png"})
    assert png["count"] == 0
    shot = world["library"] / "shot.png"
    Image.new("RGB", (200, 120), (10, 120, 200)).save(shot)
    wait_until(lambda: album_ids(daemon, "Screenshots") == {idof(shot)}, timeout=60)
    wait_until(lambda: daemon.request("GET", f"/api/albums/{png['id']}")["count"] == 1,
               timeout=15)
    # its query can change; a manual album has none to change
    daemon.request("PUT", f"/api/albums/{png['id']}", {"query": "format=jpeg width>=320"})
    assert daemon.request("GET", f"/api/albums/{png['id']}")["count"] == len(photos)
    manual = daemon.request("POST", "/api/albums", {"name": "Kept"})
    assert http_error(daemon, "PUT", f"/api/albums/{manual['id']}",
                      {"query": "rating>=1"})[0] == 409
    listing = daemon.request("GET", "/api/albums")["albums"]
    assert [a["name"] for a in listing] == ["Best", "Kept", "Screenshots"]
    shot.unlink()
    settled(world, len(photos))
    for content in (p4, p5):
        daemon.request("DELETE", f"/api/images/{content}/rating")
    for album in listing:
        daemon.request("DELETE", f"/api/albums/{album['id']}")


def test_memories_rank_by_taste_and_fold_near_duplicates(world: dict[str, Any]) -> None:
    daemon, photos = world["daemon"], world["photos"]
    answer = daemon.request("GET", "/api/memories?date=2024-12-07")
    groups = answer["memories"]
    assert [(g["year"], g["years_ago"]) for g in groups] == [(2023, 1), (2020, 4)]
    assert groups[0]["title"] == "a year ago: 7 December 2023"
    items = groups[0]["items"]
    twins = {idof(photos["dec7a"]), idof(photos["dec7b"])}
    assert groups[0]["total"] == 3 and len(items) == 2  # the same shot twice is one memory
    assert {i["id"] for i in items} - twins == {idof(photos["dec7c"])}
    assert next(i for i in items if i["id"] in twins)["stands_for"] == 2
    # The person's rating puts a photo first.
    other = idof(photos["dec7c"])
    daemon.request("PUT", f"/api/images/{other}/rating", {"rating": 9})
    first = daemon.request("GET", "/api/memories?date=2024-12-07")["memories"][0]["items"][0]
    assert first["id"] == other
    daemon.request("DELETE", f"/api/images/{other}/rating")
    assert daemon.request("GET", "/api/memories?date=2024-12-09")["memories"] == []
    assert http_error(daemon, "GET", "/api/memories?date=2024-13-40")[0] == 400
    # recently added: the newest first
    late = make_photo(world["library"] / "late.jpg", 320, 240, seed=99)
    settled(world, len(photos) + 1)
    added = daemon.request("GET", "/api/images?per_page=100&q=added")
    assert added["total"] == len(photos) + 1 and added["items"][0]["id"] == idof(late)
    late.unlink()
    settled(world, len(photos))


def test_export_copies_byte_for_byte_with_sidecars_and_never_overwrites(
        world: dict[str, Any], tmp_path: Path) -> None:
    daemon, photos, config = world["daemon"], world["photos"], world["config"]
    out = run_cli("album", "new", "Trip", "--config", str(config))
    assert out.returncode == 0, out.stderr
    out = run_cli("album", "add", "trip", str(photos["p0"]), str(photos["p6"]),
                  "--config", str(config))
    assert out.returncode == 0 and "2 photos" in out.stdout, out.stderr
    target = tmp_path / "out"
    out = run_cli("album", "export", "Trip", str(target), "--config", str(config))
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in target.iterdir()) == ["p0.jpg", "p0.jpg.xmp", "p6.jpg"]
    for name in ("p0.jpg", "p0.jpg.xmp", "p6.jpg"):
        source = photos[name.split(".")[0]].with_name(name)
        assert (target / name).read_bytes() == source.read_bytes()
    again = run_cli("album", "export", "Trip", str(target), "--config", str(config))
    assert again.returncode != 0 and "already there" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    linked = tmp_path / "linked"
    out = run_cli("album", "export", "Trip", str(linked), "--link", "--config", str(config))
    assert out.returncode == 0, out.stderr
    assert os.stat(linked / "p6.jpg").st_ino == os.stat(photos["p6"]).st_ino
    listing = run_cli("album", "list", "--config", str(config))
    assert "Trip" in listing.stdout and "2 photos" in listing.stdout
    memories = run_cli("memories", "--date", "2024-12-07", "--config", str(config))
    assert memories.returncode == 0 and "a year ago: 7 December 2023" in memories.stdout
    missing = run_cli("album", "export", "Nope", str(tmp_path / "x"), "--config", str(config))
    assert missing.returncode != 0 and "no album named 'Nope'" in missing.stderr
    trip = next(a for a in daemon.request("GET", "/api/albums")["albums"] if a["name"] == "Trip")
    daemon.request("DELETE", f"/api/albums/{trip['id']}")


def test_the_albums_page_save_a_search_and_add_a_selection_in_chromium(
        world: dict[str, Any]) -> None:
    from tests.test_web_ui import serious_violations

    daemon, photos = world["daemon"], world["photos"]
    base = f"http://127.0.0.1:{daemon.port}"
    with chromium_page() as page:
        page.on("dialog", lambda dialog: dialog.accept(
            "Wide" if dialog.type == "prompt" else None))
        page.goto(base + "/")
        page.get_by_test_id("memories").wait_for()  # no search: this day's memories
        page.goto(base + "/?q=" + "width%3E%3D320")
        page.get_by_test_id("result-tile").first.wait_for()
        page.get_by_test_id("save-search").click()
        page.get_by_text("Saved: Wide holds").wait_for()
        tiles = page.get_by_test_id("result-tile")
        for i in range(2):
            tiles.nth(i).locator("input.select").check()
        chosen = {tiles.nth(i).get_attribute("data-id") for i in range(2)}
        # a new album named like one there is: refused, and said in one line
        page.get_by_test_id("selection-album").select_option("new")
        page.get_by_test_id("selection-add").click()
        page.get_by_text('there is already an album named "Wide"').wait_for()
        daemon.request("POST", "/api/albums", {"name": "Picked"})
        page.reload()
        tiles.first.wait_for()
        for i in range(2):
            tiles.nth(i).locator("input.select").check()
        page.get_by_test_id("selection-album").select_option(label="Picked")
        page.get_by_test_id("selection-add").click()
        page.get_by_text("Added 2 photos to Picked").wait_for()
        assert album_ids(daemon, "Picked") == chosen

        page.get_by_test_id("nav-albums").click()
        cards = page.get_by_test_id("album-card")
        cards.nth(1).wait_for()
        text = page.get_by_test_id("albums").inner_text()
        assert "Picked" in text and "2 photos" in text and "smart" in text
        assert serious_violations(page) == []
        page.reload()  # the page lives in the URL
        cards.first.wait_for()
        cards.filter(has_text="Picked").locator("a").click()
        page.wait_for_function("() => document.querySelectorAll("
                               "'[data-testid=result-tile]').length === 2")
        # the viewer adds the photo shown
        page.get_by_test_id("result-tile").first.locator("button.open").click()
        page.get_by_test_id("viewer").wait_for()
        page.get_by_test_id("viewer-album").select_option(label="Picked")
        page.get_by_test_id("viewer-add").click()
        page.get_by_text("to Picked (2 photos in it)").wait_for()
        assert serious_violations(page) == []
        page.keyboard.press("Escape")
    assert len(photos) >= 2
    for album in daemon.request("GET", "/api/albums")["albums"]:
        daemon.request("DELETE", f"/api/albums/{album['id']}")


def test_photos_held_before_albums_kept_it_are_added_when_their_oldest_file_was(
        tmp_path: Path) -> None:
    """The first start after an upgrade dates every photo already held by its files' times,
    read in one pass over the file records (a copy's older time wins)."""
    from types import SimpleNamespace

    from anagnorisisd.features.albums.feature import AlbumsFeature
    from anagnorisisd.search.catalog import Catalog
    from anagnorisisd.store.database import Store

    store = Store(tmp_path / "data")
    try:
        with store.write() as w:
            for path, content, mtime in (("/p/a.jpg", b"a" * 32, 5_000), ("/q/a.jpg", b"a" * 32,
                                         3_000), ("/p/b.jpg", b"b" * 32, 7_000)):
                w.seen(path, 100, mtime * 10**9)
                rec = w.file(path)
                assert rec is not None
                w.set_hash(path, rec.gen, content, 100, mtime * 10**9)
                w.finish(path, rec.gen, None)
        catalog = Catalog(store)
        catalog.load()
        feature = AlbumsFeature(SimpleNamespace(  # type: ignore[arg-type]
            store=store, search=SimpleNamespace(catalog=catalog)))
        assert feature.albums.backfill_added(feature.mtimes_of) == 2
        assert feature.albums.added == {b"a" * 32: 3_000.0, b"b" * 32: 7_000.0}
        assert feature.albums.backfill_added(feature.mtimes_of) == 0  # none missing now
    finally:
        store.close()
