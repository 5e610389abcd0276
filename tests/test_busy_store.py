"""While the store is held by a long write, the writes asked for wait, and nothing else does:
ratings wait on threads of their own (http.common.WRITES), so listings and status go on."""

from __future__ import annotations

import threading
import tomllib
from pathlib import Path

import lmdb
from PIL import Image

from tests.helpers import Daemon, free_port, http_error, wait_until, write_config

RATINGS = 12
"""More than the threads every other request shares (cli.serve.HTTP_THREADS)."""


def test_ratings_waiting_for_the_store_hold_up_no_listing(tmp_path: Path) -> None:
    lib = tmp_path / "library"
    lib.mkdir()
    for i, colour in enumerate(("red", "green", "blue")):
        Image.new("RGB", (64, 48), colour).save(lib / f"{i}.jpg")
    config = write_config(tmp_path / "config.toml", {
        "library": {"paths": [str(lib)]}, "storage": {"data_dir": str(tmp_path / "data")},
        "server": {"port": free_port()}, "pipeline": {"stages": ["hash", "meta", "thumbnail"]}})
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    try:
        wait_until(lambda: daemon.status()["files"]["done"] == 3, timeout=60)
        photos = wait_until(lambda: (lambda page: page["items"] if page["total"] == 3 else None)(
            daemon.request("GET", "/api/images?per_page=10")), timeout=60)
        # another process takes the store's one write lock, as a long write would hold it
        env = lmdb.open(str(tmp_path / "data" / "store.lmdb"), max_dbs=16, map_size=1 << 30)
        held = env.begin(write=True)
        answers: list[int] = []

        def rate(n: int) -> None:
            status, _ = http_error(daemon, "PUT", f"/api/images/{photos[n % 3]['id']}/rating",
                                   {"rating": n % 11})
            answers.append(status)

        raters = [threading.Thread(target=rate, args=(n,)) for n in range(RATINGS)]
        try:
            for rater in raters:
                rater.start()
            for _ in range(5):  # each within Daemon.call's 30 s, while no rating can finish
                assert daemon.status()["files"]["done"] == 3
                assert daemon.request("GET", "/api/images?per_page=10")["total"] == 3
                assert daemon.call("GET", f"/api/images/{photos[0]['id']}")[0] == 200
            assert not answers and all(rater.is_alive() for rater in raters)
        finally:
            held.abort()
            for rater in raters:
                rater.join(60)
            env.close()
        assert answers == [200] * RATINGS
        assert daemon.request("GET", f"/api/images/{photos[0]['id']}")["user_rating"] is not None
    finally:
        daemon.kill()
