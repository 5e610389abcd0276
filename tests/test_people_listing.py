"""The people page is remade only for the people who changed: after every kind of edit
and arrival, the kept listing equals one made from nothing (a real Store in a temp dir)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from anagnorisisd.features.people.book import PeopleBook
from anagnorisisd.features.people.corrections import PeopleCorrections
from anagnorisisd.features.people.desk import PeopleDesk
from anagnorisisd.features.people.service import People
from anagnorisisd.store.database import Store


def photo(vectors: np.ndarray) -> dict[str, Any]:
    return {"dim": vectors.shape[1], "faces": [
        {"box": [0, 0, 40 + k, 40 + k], "score": 0.9, "small": False,
         "vector": v.astype(np.float16).tobytes()} for k, v in enumerate(vectors)]}


def faces_of(centres: np.ndarray, who: list[int], rng: np.random.Generator) -> np.ndarray:
    out = centres[who] + rng.normal(scale=0.03, size=(len(who), centres.shape[1]))
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def unit_rows(rng: np.random.Generator, n: int, dim: int = 64) -> np.ndarray:
    rows = rng.normal(size=(n, dim))
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def grouped(store: Store, photos: list[dict[str, Any]]) -> tuple[People, PeopleDesk]:
    """People from these photos (content k for the k-th), grouped once."""
    people = People(store, "faces")
    for k, output in enumerate(photos):
        people.on_result(k.to_bytes(32, "big"), output)
    people.regroup()
    return people, PeopleDesk(people)


def from_nothing(people: People) -> list[dict[str, Any]]:
    people.final.reset(dict(people.final.items()))
    return PeopleDesk(people).listing()


def test_the_kept_listing_equals_a_fresh_one_after_every_change(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    centres = unit_rows(rng, 6)
    store = Store(tmp_path / "store")
    try:
        people, desk = grouped(store, [photo(faces_of(centres, [k % 6, (k + 1) % 6], rng))
                                       for k in range(30)])

        def same() -> list[dict[str, Any]]:
            kept = desk.listing()
            assert kept == from_nothing(people)
            return kept

        listing = same()
        assert len(listing) == 6 and all(p["faces"] == 10 for p in listing)
        fixes = PeopleCorrections(people)
        fixes.rename(listing[0]["id"], "Ana")
        assert same()[0]["name"] == "Ana"
        people.on_result((99).to_bytes(32, "big"), photo(faces_of(centres, [0, 1, 2], rng)))
        assert sum(p["faces"] for p in same()) == 63
        fixes.hide(listing[1]["id"], True)
        assert listing[1]["id"] not in {p["id"] for p in same()}
        assert [p["id"] for p in desk.listing(hidden=True)] == [listing[1]["id"]]
        before = desk.person(listing[2]["id"])
        fixes.fix_face(before["face_list"][0]["id"], {"person": None})
        assert {p["id"]: p["faces"] for p in same()}[listing[2]["id"]] == before["faces"] - 1
        fixes.merge(listing[3]["id"], listing[4]["id"])
        assert listing[3]["id"] not in {p["id"] for p in same()}
        people.on_content([], [(5).to_bytes(32, "big")])
        same()
        ana = desk.photos_with("ana")
        assert len(ana) == desk.person(listing[0]["id"])["photos"] > 0

        order = desk.photo_order()  # the person sort: Ana's photos before anyone else's
        assert {c for c, rank in order.items() if rank == 0} == ana
        assert (5).to_bytes(32, "big") not in order
    finally:
        store.close()


def test_a_correction_follows_its_face_when_the_photo_is_redone_in_another_order(
        tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    centres = unit_rows(rng, 3)
    store = Store(tmp_path / "store")
    try:
        people, desk = grouped(store, [photo(faces_of(centres, [0, 1], rng))
                                       for _ in range(6)])
        fixes = PeopleCorrections(people)
        ben = fixes.new_person("Ben", [])
        content = (0).to_bytes(32, "big")
        first = photo(faces_of(centres, [0, 1], rng))
        first["faces"][0]["box"], first["faces"][1]["box"] = [0, 0, 50, 50], [200, 0, 260, 60]
        people.on_result(content, first)
        fixes.fix_face(f"{content.hex()}-1", {"person": ben})  # the face on the right
        assert desk.faces_of(content)[1]["name"] == "Ben"

        redone = {**first, "faces": [
            {**first["faces"][1], "box": [202, 1, 259, 61]}, first["faces"][0]]}
        people.on_result(content, redone)  # another model: the right face comes first
        assert desk.faces_of(content)[0]["name"] == "Ben"
        assert desk.faces_of(content)[1]["name"] != "Ben"

        people.on_result(content, {**first, "faces": [first["faces"][0]]})  # missed now
        assert all(f["name"] != "Ben" for f in desk.faces_of(content))
        people.on_result(content, redone)  # found again: the correction comes back
        assert desk.faces_of(content)[0]["name"] == "Ben"

        other = unit_rows(rng, 2, 32)  # a model of another length: a fresh start
        people.on_result((1).to_bytes(32, "big"), photo(other))
        assert people.dim == 32 and len(people.faces) == 2
        people.on_result(content, {**photo(other), "faces": [
            {**photo(other)["faces"][0], "box": [198, 2, 262, 58]}]})
        assert desk.faces_of(content)[0]["name"] == "Ben"

        stored = PeopleBook(store).fixes(content)  # what a restart reads back
        assert stored[0]["person"] == ben and stored[0]["box"] == [198, 2, 262, 58]
    finally:
        store.close()
