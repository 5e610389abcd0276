"""The tag vocabulary on its own: what a tag answers to, groups that share a name, counts,
and rows that follow the catalog's columns as they are rebuilt."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from anagnorisisd.search.query import Filter, QueryError
from anagnorisisd.search.tags import TagBook, terms_of
from tests.helpers import parse


def columns_of(ids: list[bytes]) -> SimpleNamespace:
    return SimpleNamespace(position={c: i for i, c in enumerate(ids)})


def test_a_hierarchical_keyword_answers_to_its_path_its_parents_and_each_level() -> None:
    assert terms_of("Places|Europe|Lisbon") == {
        "places", "europe", "lisbon", "places|europe", "places|europe|lisbon"}


def test_groups_sharing_a_name_and_photos_leaving() -> None:
    a, b, c = b"a" * 32, b"b" * 32, b"c" * 32
    book = TagBook()
    book.put(a, "file", [("Rex", "iptc"), ("Places|Europe|Lisbon", "xmp")])
    book.put(a, "concept", [("Rex", "concept")])
    book.put(b, "concept", [("Rex", "concept")])
    columns = columns_of([c, b, a])
    assert sorted(book.rows("rex", columns).tolist()) == [1, 2]
    assert book.rows("EUROPE", columns).tolist() == [2]
    book.put(a, "concept", [])  # the concept taken back: the keyword still says Rex
    assert sorted(book.rows("Rex", columns).tolist()) == [1, 2]
    book.drop(b)
    assert book.rows("Rex", columns).tolist() == [2]
    assert {(t["name"], t["source"]): t["count"] for t in book.listing()} == {
        ("Rex", "iptc"): 1, ("Places|Europe|Lisbon", "xmp"): 1}
    rebuilt = columns_of([a, c])  # the catalog's columns rebuilt: rows follow
    assert book.rows("lisbon", rebuilt).tolist() == [0]
    assert book.rows("nothing", rebuilt).dtype == np.intp


def test_tag_terms_parse_and_bad_ones_say_why() -> None:
    query = parse('tag:"Rex" tag~:Lisbon -tag:"our old house" beach')
    assert query.filters == [Filter("tag", "=", "Rex"), Filter("tag", "~", "Lisbon"),
                             Filter("tag", "!=", "our old house")]
    assert query.text == "beach"
    for bad in ("tag:", '-tag~:"Rex"'):
        try:
            parse(bad)
        except QueryError as exc:
            assert "tag" in str(exc)
        else:
            raise AssertionError(bad)
