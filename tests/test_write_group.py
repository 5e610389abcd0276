"""Ratings from many request threads are committed together (one wait for the store, one
flush), each undone alone when it fails, and all refused together when the store can
save none of them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import lmdb
import pytest

from anagnorisisd.store.database import Store
from anagnorisisd.store.errors import StoreFull
from anagnorisisd.store.writer import Writer
from tests.helpers import wait_until


def content(i: int) -> bytes:
    return i.to_bytes(32, "big")


def rate_all(store: Store, count: int, work_of: Callable[[int], None] | None = None
             ) -> dict[int, BaseException | None]:
    """`count` threads each rating their photo through the group while the store's write
    lock is held, then let go: they queue, then commit together."""
    outcome: dict[int, BaseException | None] = {}

    def rate(i: int) -> None:
        def write(w: Writer) -> None:
            w.set_rating(content(i), float(i % 11), 1.0)
            if work_of is not None:
                work_of(i)

        try:
            store.together.run(write)
            outcome[i] = None
        except BaseException as exc:
            outcome[i] = exc

    threads = [threading.Thread(target=rate, args=(i,)) for i in range(count)]
    with store._write_lock:  # a long write elsewhere: every rating queues behind it
        for thread in threads:
            thread.start()
        wait_until(lambda: len(store.together._queue) == count, timeout=30)
    for thread in threads:
        thread.join(30)
    return outcome


def test_ratings_queued_together_are_one_commit(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    before = store.last_txn()
    outcome = rate_all(store, 40)
    assert outcome == {i: None for i in range(40)}
    assert store.last_txn() - before == 1  # all of them, taken once the store was free
    for i in range(40):
        assert store.get_user(content(i), "rating") == {"value": float(i % 11), "at": 1.0}
    store.close()


def test_a_write_that_fails_is_undone_alone(tmp_path: Path) -> None:
    def odd_fails(i: int) -> None:
        if i % 2:
            raise ValueError(f"photo {i} refused")

    store = Store(tmp_path / "data")
    outcome = rate_all(store, 20, odd_fails)
    for i in range(20):
        saved = store.get_user(content(i), "rating")
        if i % 2:
            assert isinstance(outcome[i], ValueError) and str(outcome[i]) == f"photo {i} refused"
            assert saved is None and store.get_user(content(i), "rating-history") is None
        else:
            assert outcome[i] is None and saved is not None
    store.close()


def test_a_write_undone_alone_leaves_no_count_and_no_news_behind(tmp_path: Path) -> None:
    """Its transaction is aborted, and what it told the writer goes with it: the census
    and the contents born are the committed writes' alone."""
    store = Store(tmp_path / "data")
    counted = store.census_snapshot().files["done"]

    def counts_then_fails(w: Writer) -> None:
        w.delta.files["done"] += 5
        w.born.append(content(99))
        raise ValueError("refused after counting")

    with pytest.raises(ValueError):
        store.together.run(counts_then_fails)
    assert store.census_snapshot().files["done"] == counted
    store.close()


def test_a_store_that_cannot_commit_refuses_the_whole_group(tmp_path: Path) -> None:
    def full_at_seven(i: int) -> None:
        if i == 7:
            raise lmdb.MapFullError("mdb_put: MDB_MAP_FULL")

    store = Store(tmp_path / "data")
    outcome = rate_all(store, 12, full_at_seven)
    refused = [i for i, exc in outcome.items() if isinstance(exc, StoreFull)]
    assert sorted(refused) == list(range(12))
    for i in refused:
        assert store.get_user(content(i), "rating") is None  # said, and nothing half-saved
    with pytest.raises(StoreFull):
        store.together.run(lambda w: (_ for _ in ()).throw(lmdb.MapFullError("full")))
    store.close()
