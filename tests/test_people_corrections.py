"""The person's corrections, on a real Store: no two people share a name, a face named with
a taken name joins that person, every kind of correction is undone exactly, and nothing a
correction wrote is lost to a regroup, a reopen or a full disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from anagnorisisd.features.people.book import PEOPLE_SETTING, PeopleBook
from anagnorisisd.features.people.corrections import (
    NameTaken,
    NothingToUndo,
    PeopleCorrections,
)
from anagnorisisd.features.people.desk import PeopleDesk
from anagnorisisd.features.people.service import People
from anagnorisisd.store.database import Store, StoreFull
from tests.test_people_listing import faces_of, photo, unit_rows


def library(store: Store, seed: int = 5) -> tuple[People, PeopleDesk, PeopleCorrections]:
    """Three people, ten photos each with two of them; grouped once."""
    rng = np.random.default_rng(seed)
    centres = unit_rows(rng, 3)
    people = People(store, "faces")
    for k in range(15):  # stored as the faces stage stores them, so a reopen reads them
        content, output = k.to_bytes(32, "big"), photo(faces_of(centres, [k % 3, (k + 1) % 3],
                                                                rng))
        with store.write() as w:
            w.seen(f"/library/{k}.jpg", 1, 1)
            w.set_hash(f"/library/{k}.jpg", 1, content, 1, 1)
            w.put_result(content, "faces", "1", output)
        people.on_result(content, output)
    people.regroup()
    corrections = PeopleCorrections(people)
    corrections.load()
    return people, PeopleDesk(people), corrections


def reopened(store: Store) -> tuple[People, PeopleDesk, PeopleCorrections]:
    people = People(store, "faces")
    people.load()
    corrections = PeopleCorrections(people)
    corrections.load()
    return people, PeopleDesk(people), corrections


def state(desk: PeopleDesk) -> dict[str, Any]:
    """Who is whom, as the people page and every face say it."""
    return {"people": sorted((p["name"] or "", p["faces"], p["hidden"]) for p in
                             [*desk.listing(), *desk.listing(hidden=True)]),
            "faces": sorted((fid, desk.face(fid)["person"], desk.face(fid)["hidden"])
                            for fid in desk.people.faces)}


def test_names_are_unique_and_a_face_named_alike_joins_that_person(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    try:
        _, desk, fixes = library(store)
        a, b, c = (p["id"] for p in desk.listing())
        fixes.rename(a, "Leonard")
        with pytest.raises(NameTaken) as taken:
            fixes.rename(b, "  leonard ")
        assert taken.value.person == a
        with pytest.raises(NameTaken):
            fixes.new_person("LEONARD", [desk.person(c)["face_list"][0]["id"]])
        fixes.rename(a, "leonard")  # their own name in another case: fine
        penny_face = desk.person(b)["face_list"][0]["id"]
        assert fixes.fix_face(penny_face, {"name": "Leonard"}) == a  # joins, never a twin
        assert desk.face(penny_face)["name"] == "leonard"
        assert sum(1 for p in desk.listing() if (p["name"] or "").lower() == "leonard") == 1
        # a face of an unnamed person names that person: the whole group, as one expects
        fixes.fix_face(desk.person(c)["face_list"][0]["id"], {"name": "Penny"})
        assert desk.person(c)["name"] == "Penny" and desk.person(c)["faces"] == 10
        # a face of a named person given a new name goes to a new person, alone
        moved = fixes.fix_face(desk.person(c)["face_list"][1]["id"], {"name": "Amy"})
        assert moved not in (a, b, c) and desk.person(str(moved))["faces"] == 1
        assert desk.person(c)["name"] == "Penny"
    finally:
        store.close()


def test_a_library_from_before_gets_its_twins_numbered(tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    try:
        with store.write() as w:
            w.set_setting(PEOPLE_SETTING, {
                "aaaaaaaaaaaa": {"name": "Leonard", "created": 1.0},
                "bbbbbbbbbbbb": {"name": "leonard ", "created": 2.0},
                "cccccccccccc": {"name": "Leonard (2)", "created": 0.5}})
        names = {pid: p.name for pid, p in PeopleBook(store).load_people().items()}
        assert names == {"aaaaaaaaaaaa": "Leonard", "cccccccccccc": "Leonard (2)",
                         "bbbbbbbbbbbb": "leonard  (3)"}
        assert PeopleBook(store).load_people()["bbbbbbbbbbbb"].name == "leonard  (3)"  # kept
    finally:
        store.close()


def test_every_correction_is_undone_exactly_even_after_a_regroup_and_a_reopen(
        tmp_path: Path) -> None:
    store = Store(tmp_path / "store")
    try:
        people, desk, fixes = library(store)
        a, b, c = (p["id"] for p in desk.listing())
        steps = [
            lambda: fixes.rename(a, "Ana"),
            lambda: fixes.hide(b, True),
            lambda: fixes.fix_face(desk.person(a)["face_list"][0]["id"], {"person": c}),
            lambda: fixes.fix_face(desk.person(c)["face_list"][0]["id"], {"person": None}),
            lambda: fixes.fix_face(desk.person(c)["face_list"][1]["id"], {"hidden": True}),
            lambda: fixes.new_person("Ben", [desk.person(a)["face_list"][1]["id"]]),
            lambda: fixes.fix_face(desk.person(c)["face_list"][2]["id"], {"name": "Ana"}),
            lambda: fixes.merge(c, a),
        ]
        seen = [state(desk)]
        for step in steps:
            step()
            seen.append(state(desk))
        assert len({repr(s) for s in seen}) == len(seen)  # each step changed something
        assert fixes.last() is not None and fixes.last()["what"].startswith("merged")

        people, desk, fixes = reopened(store)  # a restart: every correction is still there
        assert state(desk) == seen[-1]
        people.regroup()  # a grouping never undoes the person's own corrections
        assert state(desk)["people"] == seen[-1]["people"]
        for expected in reversed(seen[:-1]):
            fixes.undo()
            assert state(desk)["people"] == expected["people"]
            people, desk, fixes = reopened(store)  # and each undo is kept too
            assert state(desk)["people"] == expected["people"]
        assert state(desk) == seen[0]
        with pytest.raises(NothingToUndo):
            fixes.undo()
    finally:
        store.close()


def test_a_correction_the_disk_cannot_hold_changes_nothing(tmp_path: Path,
                                                           monkeypatch: Any) -> None:
    store = Store(tmp_path / "store")
    try:
        people, desk, fixes = library(store)
        a = desk.listing()[0]["id"]
        before = state(desk)

        def full(*args: Any, **kwargs: Any) -> None:
            raise StoreFull("the data disk is full")

        monkeypatch.setattr(people.book, "commit", full)
        face = desk.person(a)["face_list"][0]["id"]
        for attempt in (lambda: fixes.rename(a, "Ana"), lambda: fixes.merge(
                a, desk.listing()[1]["id"]), lambda: fixes.fix_face(face, {"name": "Zed"}),
                lambda: fixes.new_person("Bo", [face])):
            with pytest.raises(StoreFull):
                attempt()
            assert state(desk) == before  # memory says what the store holds
        monkeypatch.undo()
        assert state(reopened(store)[1]) == before
    finally:
        store.close()
