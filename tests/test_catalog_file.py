"""The catalog's file (search/catalog_file.py): a command with no daemon running reads the
catalog from it instead of every photo's records, and gets exactly what reading the store
gives, or reads the store when the file is not for the store as it is."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from anagnorisisd.search import catalog_file
from anagnorisisd.search import catalog_rows as kinds
from anagnorisisd.search.catalog import Catalog
from anagnorisisd.search.catalog_rows import Entry, arrays_of, columns_of, entries_of, entry_at
from anagnorisisd.store.database import Store


def same(a: Any, b: Any) -> bool:
    """Equal, with nan equal to nan (an unmeasured value is nan on both sides)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def assert_same_entry(a: Entry, b: Entry) -> None:
    for field in dataclasses.fields(Entry):
        left, right = getattr(a, field.name), getattr(b, field.name)
        assert same(left, right), (field.name, left, right)


def assert_same_columns(a: Any, b: Any) -> None:
    assert a.ids == b.ids and a.position == b.position
    for field in dataclasses.fields(a):
        if field.name in ("ids", "position"):
            continue
        left, right = getattr(a, field.name), getattr(b, field.name)
        if isinstance(left, int):  # sort_version: how often a sorted cell moved in place
            assert left == right, field.name
        elif left.dtype.kind == "f":
            assert np.array_equal(left, right, equal_nan=True), field.name
        else:
            assert np.array_equal(left, right), field.name


def test_every_field_of_a_row_is_kept() -> None:
    """A field added to Entry and not to one of the kinds would silently be dropped from the
    file (and come back from it at its default): it fails here instead."""
    listed = kinds.INTS + kinds.FLOATS + kinds.OPTIONAL_FLOATS + kinds.FLAGS + kinds.TEXTS
    assert {*listed, kinds.TWIN} == {f.name for f in dataclasses.fields(Entry)}
    assert len(set(listed)) == len(listed)  # each in one kind only


def odd_rows() -> dict[bytes, Entry]:
    """Rows as unlike one another as the catalog holds: unrated, rated by hand and by the
    model, a RAW shown as its JPEG, a camera name that was not UTF-8, nothing measured."""
    return {
        b"a" * 32: Entry(),
        b"b" * 32: Entry(4000, 3000, 2_000_000, "jpeg", user_rating=7.0, model_rating=3.5,
                         model_version="m1", taken=1.6e9, own_time=True, camera="canon eos r6",
                         place="lisbon", has_gps=True, bias=-0.7, light=3.2, sharpness=0.4,
                         misfire="flash", described=True, thumbnailed=True, lat=38.7,
                         lon=-9.1, gps_source="xmp", utc_offset=3600.0, eyes_closed=1.0),
        b"c" * 32: Entry(6000, 4000, 25_000_000, "cr3", twin_of=b"b" * 32, failed=True,
                         camera="caf\udce9 cam", model_rating=0.0, model_version="m2"),
        b"d" * 31: Entry(1, 1, 1, "png", twin_of=b"\0" * 31),  # lengths are kept, not assumed
    }


def test_rows_come_back_from_the_file_as_they_went_in(tmp_path: Path) -> None:
    rows = odd_rows()
    ids = list(rows)
    path = tmp_path / "catalog.npz"
    tags = {b"b" * 32: [("Places|Europe|Lisbon", "xmp"), ("Rex", "iptc")]}
    assert catalog_file.write(path, "stamp-1", ids, arrays_of(rows.values()), tags)
    saved = catalog_file.read(path, "stamp-1")
    assert saved is not None and saved.ids == ids and saved.file_tags == tags
    every = entries_of(saved.ids, saved.arrays)  # the daemon's way: all at once
    for row, content in enumerate(ids):
        assert_same_entry(entry_at(saved.arrays, row), rows[content])
        assert_same_entry(every[content], rows[content])
    assert_same_columns(columns_of(saved.ids, saved.arrays),
                        columns_of(ids, arrays_of(rows.values())))
    columns = columns_of(saved.ids, saved.arrays)
    assert columns.rating.tolist()[1:3] == [7.0, 0.0] and math.isnan(columns.rating[0])
    assert columns.twin.tolist() == [False, False, True, True]
    assert columns.misfire.tolist() == [False, True, False, False]


def test_a_file_half_written_by_a_killed_process_is_swept(tmp_path: Path) -> None:
    import os

    rows = odd_rows()
    left = tmp_path / "catalog.npz.4242.tmp"
    left.write_bytes(b"half")
    os.utime(left, (1e9, 1e9))
    fresh = tmp_path / "catalog.npz.4343.tmp"  # another process writing now: left alone
    fresh.write_bytes(b"half")
    assert catalog_file.write(tmp_path / "catalog.npz", "s", list(rows),
                              arrays_of(rows.values()), {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.npz", fresh.name]


def test_a_file_for_another_state_or_damaged_is_not_used(tmp_path: Path,
                                                         caplog: pytest.LogCaptureFixture
                                                         ) -> None:
    rows = odd_rows()
    path = tmp_path / "catalog.npz"
    assert catalog_file.read(path, "s") is None  # none yet
    catalog_file.write(path, "s", list(rows), arrays_of(rows.values()), {})
    assert catalog_file.read(path, "another write since") is None
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert catalog_file.read(path, "s") is None
    assert "unreadable" in caplog.text
    path.write_bytes(b"\0" * 100)
    assert catalog_file.read(path, "s") is None


def test_an_unwritable_place_costs_only_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the folder would be")
    rows = odd_rows()
    assert not catalog_file.write(blocker / "catalog.npz", "s", list(rows),
                                  arrays_of(rows.values()), {})
    assert list(tmp_path.iterdir()) == [blocker]


def stored_library(data: Path, count: int) -> Store:
    """A store with `count` live photos described by the meta stage, every third keyworded
    and thumbnailed, one rated by hand and one by the model."""
    store = Store(data)
    with store.write() as w:
        for i in range(count):
            path, content = f"/photos/{i}.jpg", i.to_bytes(4, "big") * 8
            w.seen(path, 100 + i, 1_000 + i)
            rec = w.file(path)
            assert rec is not None
            w.set_hash(path, rec.gen, content, 100 + i, 1_000 + i)
            w.put_result(content, "meta", "1", {
                "format": "jpeg", "width": 640 + i, "height": 480, "file_size": 100 + i,
                "taken_at": f"2024-05-{1 + i % 28:02d}T10:00:00", "camera": f"Cam {i % 3}",
                "exposure": 0.01, "f_number": 2.8, "iso": 200,
                "keywords": [{"name": f"Places|Town {i % 4}", "source": "xmp"}]
                if i % 3 == 0 else []})
            if i % 3 == 0:
                w.put_result(content, "thumbnail", "1", {"mime": "image/jpeg", "data": b"x"})
            w.finish(path, rec.gen, None)
        w.set_user((1).to_bytes(4, "big") * 8, "rating", {"value": 8})
        w.set_user((2).to_bytes(4, "big") * 8, "prediction", {"value": 4.5, "model": "v1"})
    return store


def test_a_second_catalog_reads_the_file_and_sees_the_same_library(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = stored_library(tmp_path / "data", 60)
    path = tmp_path / "data" / "cache" / "catalog.npz"
    try:
        first = Catalog(store, saved_at=path)
        first.load()
        assert path.exists()  # written after reading the store

        def no_store_reads(*args: Any) -> Entry:
            raise AssertionError("the store was read though the file is current")

        with monkeypatch.context() as patched:
            patched.setattr(Catalog, "_read", no_store_reads)
            second = Catalog(store, saved_at=path)
            second.load()
        assert len(second) == len(first) == 60
        assert_same_columns(second.columns(), first.columns())
        for content in first.columns().ids:
            assert content in second
            entry, expected = second.get(content), first.get(content)
            assert entry is not None and expected is not None
            assert_same_entry(entry, expected)
            assert second.tags.of(content) == first.tags.of(content)
        assert second.tags.listing() == first.tags.listing()
        assert [t["count"] for t in second.tags.listing()] == [5, 5, 5, 5]
        assert second.get(b"nope" * 8) is None and b"nope" * 8 not in second
        rated = (1).to_bytes(4, "big") * 8
        entry = second.get(rated)
        assert entry is not None and entry.user_rating == 8.0

        second.set_rating(rated, user=2.0)  # a change makes the rows objects, once
        assert second.columns().rating[second.columns().position[rated]] == 2.0
        assert len(second.entries) == 60

        with store.write() as w:  # any write since: the file is stale, the store is read
            w.set_user(rated, "rating", {"value": 3})
        third = Catalog(store, saved_at=path)
        third.load()
        entry = third.get(rated)
        assert entry is not None and entry.user_rating == 3.0
    finally:
        store.close()


def test_the_daemon_saves_its_catalog_when_it_stops(tmp_path: Path) -> None:
    """save() writes what the catalog holds at the store's last write; nothing when that
    file is already there, and nothing for a catalog that never finished loading."""
    store = stored_library(tmp_path / "data", 10)
    path = tmp_path / "data" / "cache" / "catalog.npz"
    try:
        unloaded = Catalog(store, saved_at=path)
        unloaded.save()
        assert not path.exists()
        catalog = Catalog(store, saved_at=path)
        catalog.load()
        written = path.stat().st_mtime_ns
        catalog.save()
        assert path.stat().st_mtime_ns == written  # the same state: not written again
        content = (5).to_bytes(4, "big") * 8
        with store.write() as w:
            w.set_user(content, "rating", {"value": 9})
        catalog.set_rating(content, user=9.0)
        catalog.save()
        reread = Catalog(store, saved_at=path)
        assert reread._load_saved()  # current: the daemon's view, from the file
        entry = reread.get(content)
        assert entry is not None and entry.user_rating == 9.0
    finally:
        store.close()
