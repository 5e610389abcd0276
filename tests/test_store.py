"""The store: schema versioning, content addressing, and exact live counters."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anagnorisisd.store.database import SCHEMA_VERSION, Store, StoreError
from anagnorisisd.store.records import pack


def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    store = Store(tmp_path)
    with store.env.begin(write=True) as txn:
        txn.put(b"schema_version", pack(SCHEMA_VERSION + 1), db=store.meta)
    store.close()
    with pytest.raises(StoreError, match="newer than this anagnorisisd understands"):
        Store(tmp_path)


def test_newer_schema_is_one_line_from_the_cli(tmp_path: Path) -> None:
    from tests.helpers import run_cli

    store = Store(tmp_path / "data")
    with store.env.begin(write=True) as txn:
        txn.put(b"schema_version", pack(SCHEMA_VERSION + 5), db=store.meta)
    store.close()
    result = run_cli("status", env={"ANAGNORISISD_STORAGE__DATA_DIR": str(tmp_path / "data"),
                                    "ANAGNORISISD_SERVER__PORT": "1"})
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "newer than this anagnorisisd understands" in result.stderr


def test_move_keeps_content_and_user_data(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.set_stage_versions({"meta": "1"})
    content = bytes(range(32))
    with store.write() as w:
        w.seen("/lib/a.jpg", 10, 1)
        assert w.set_hash("/lib/a.jpg", 1, content, 10, 1)
        w.put_result(content, "meta", "1", {"width": 3})
        w.finish("/lib/a.jpg", 1, None)
    with store.write() as w:
        assert w.move("/lib/a.jpg", "/lib/b/a.jpg")
    assert store.get_file("/lib/a.jpg") is None
    moved = store.get_file("/lib/b/a.jpg")
    assert moved is not None and moved.hash == content and moved.state == "done"
    assert store.get_result(content, "meta") == {"width": 3}
    assert store.paths_for(content) == ["/lib/b/a.jpg"]
    assert store.census_snapshot().stage_done["meta"] == 1
    store.close()


operation = st.tuples(
    st.sampled_from(["seen", "hash", "result", "fail", "finish", "move", "remove"]),
    st.integers(0, 5), st.integers(0, 5), st.integers(0, 2),
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(operation, max_size=40))
def test_incremental_census_equals_a_full_recount(tmp_path_factory: pytest.TempPathFactory,
                                                  ops: list[tuple[str, int, int, int]]) -> None:
    """Whatever sequence of writes happens, the live counters match a recount from disk."""
    store = Store(tmp_path_factory.mktemp("census"))
    store.set_stage_versions({"meta": "1", "thumbnail": "2"})
    hashes = [bytes([i]) * 32 for i in range(3)]
    try:
        for op, a, b, c in ops:
            path, other = f"/lib/{a}.jpg", f"/lib/{b}.jpg"
            with store.write() as w:
                rec = w.file(path)
                if op == "seen":
                    w.seen(path, a + c, b)
                elif op == "hash" and rec is not None:
                    w.set_hash(path, rec.gen, hashes[c], 1, 1)
                elif op == "result":
                    w.put_result(hashes[c], ["meta", "thumbnail"][a % 2], ["1", "2", "0"][b % 3],
                                 {"x": 1}, None)
                elif op == "fail":
                    w.put_result(hashes[c], "meta", "1", None, "broken")
                elif op == "finish" and rec is not None:
                    w.finish(path, rec.gen, ("meta", "x") if c else None)
                elif op == "move":
                    w.move(path, other)
                elif op == "remove":
                    w.remove(path)
        incremental = store.census_snapshot()
        store.recount()
        recounted = store.census_snapshot()
        assert +incremental.files == +recounted.files
        assert incremental.live_content == recounted.live_content
        assert incremental.hashed == recounted.hashed
        assert +incremental.stage_done == +recounted.stage_done
        assert +incremental.stage_failed == +recounted.stage_failed
        assert +incremental.file_failed_at == +recounted.file_failed_at
    finally:
        store.close()
