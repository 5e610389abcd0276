"""The query language: examples from the docs, and a fuzzer that only ever sees QueryError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anagnorisisd.app.features import builtin_vocabulary
from anagnorisisd.search.query import Filter, QueryError
from tests.helpers import parse

VOCABULARY = builtin_vocabulary()
FIELDS = sorted(VOCABULARY.compares)
SORT_KEYWORDS = sorted(VOCABULARY.sorts)


def test_the_documented_example() -> None:
    q = parse("sunset rating>=7 width>=1920 ratio<1 size<5MB -people")
    assert q.text == "sunset" and q.negative == ["people"] and q.mode == "text"
    assert q.filters == [Filter("rating", ">=", 7.0), Filter("width", ">=", 1920.0),
                         Filter("ratio", "<", 1.0), Filter("size", "<", 5e6)]


def test_keywords_units_quotes_and_options() -> None:
    q = parse('"red car" random seed:4 order:asc format=JPG pixels>=2MP size<=1.5MiB')
    assert (q.text, q.sort, q.seed, q.order) == ("red car", "random", 4, "asc")
    assert Filter("format", "=", "jpeg") in q.filters
    assert Filter("pixels", ">=", 2e6) in q.filters
    assert Filter("size", "<=", 1.5 * 1024**2) in q.filters
    assert parse("similar:" + "ab" * 32).similar_to == "ab" * 32
    assert parse("").mode == "all" and parse("-dogs").mode == "text"
    assert parse("temperature -5").text == "temperature -5"  # a negative number is text


@pytest.mark.parametrize(("raw", "token", "position"), [
    ("sunset rating>=eleven", "rating>=eleven", 7),
    ("size<5XB", "size<5XB", 0),
    ("a widht>=3", "widht>=3", 2),
    ("rating random", "random", 7),
    ('"open quote', '"open quote', 0),
    ("similar:abc", "similar:abc", 0),
    ("rating>=11", "rating>=11", 0),
    ("format>png", "format>png", 0),
    ("order:sideways", "order:sideways", 0),
])
def test_errors_point_at_the_bad_token(raw: str, token: str, position: int) -> None:
    with pytest.raises(QueryError) as info:
        parse(raw)
    assert (info.value.token, info.value.position) == (token, position)
    assert raw[position:].startswith(token.split()[0])


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_fuzz_any_string_parses_or_raises_query_error(raw: str) -> None:
    try:
        q = parse(raw)
    except QueryError as exc:
        assert 0 <= exc.position <= len(raw)
        return
    assert isinstance(q.text, str)


token = st.one_of(
    st.sampled_from(SORT_KEYWORDS),
    st.sampled_from(["date>=2023", "date<2024-02", "date>2023-07-14", "date<=1999-12"]),
    st.builds(lambda f, op, n: f"{f}{op}{n}", st.sampled_from(
        [f for f in FIELDS if f not in ("format", "score", "date")]),
              st.sampled_from([">=", "<=", ">", "<", "=", "!="]),
              st.integers(0, 10)),
    st.from_regex(r"[a-z]{1,8}", fullmatch=True),
    st.from_regex(r"-[a-z]{2,8}", fullmatch=True),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(token, max_size=8))
def test_fuzz_well_formed_queries_keep_every_part(tokens: list[str]) -> None:
    raw = " ".join(tokens)
    sorts = [t for t in tokens if t in SORT_KEYWORDS]
    if len(set(sorts)) > 1:
        with pytest.raises(QueryError):
            parse(raw)
        return
    q = parse(raw)
    n_filters = sum(any(op in t for op in "<>=") for t in tokens)
    assert len(q.filters) == n_filters
    assert len(q.negative) == sum(t.startswith("-") for t in tokens)
    assert q.sort == (sorts[0] if sorts else None)


def test_a_score_cutoff_needs_something_to_compare_with_and_a_cosine() -> None:
    q = parse("red circle score>=0.25")
    assert q.text == "red circle" and q.filters == [Filter("score", ">=", 0.25)]
    assert parse("similar:" + "a" * 64 + " score>0.9").filters[0].accepts_score(0.95)
    for bad, words in (("score>=0.3", "needs something"), ("dog score>=1.5", "-1 to 1"),
                       ("rating score<0.2", "needs something")):
        with pytest.raises(QueryError, match=words):
            parse(bad)
