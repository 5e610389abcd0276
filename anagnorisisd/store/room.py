"""How much room the store's map is given, and how much it keeps for the person's writes."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import lmdb

log = logging.getLogger(__name__)
MIN_RESERVE_BYTES = 16 << 20
"""Room kept free in the map and on the disk for the person's own writes (ratings,
settings): bulk pipeline writes stop short of it."""


def reserve(map_size: int) -> int:
    return max(MIN_RESERVE_BYTES, map_size // 50)


def map_size_for(path: Path, configured: int, readonly: bool) -> int:
    """The configured map, or more if the store already fills most of it.

    Growing is only safe with no transaction open, so it happens at open: a daemon stopped
    by a full map always starts again, with room, while the disk has it.
    """
    data = path / "data.mdb"
    try:
        used = data.stat().st_size
    except OSError:
        return configured
    if readonly or used + reserve(configured) < configured:
        return max(configured, used + (1 << 20))
    wanted = max(configured, used * 2, used + (1 << 30))
    free = shutil.disk_usage(path).free
    grown = max(configured, min(wanted, used + free))
    if grown > configured:
        log.warning("the store fills %.0f%% of its %d MiB map; opening it with %d MiB",
                    100 * used / configured, configured >> 20, grown >> 20)
    return grown


def bulk_room(env: lmdb.Environment, path: Path) -> str | None:
    """Why bulk (pipeline) writes must pause, or None while they may go on: the map and the
    disk both keep a reserve for the person's own writes (ratings, settings)."""
    info = env.info()
    map_size = int(info["map_size"])
    used = (int(info["last_pgno"]) + 1) * int(env.stat()["psize"])
    if used + reserve(map_size) > map_size:
        return (f"the store is full ({used >> 20} of {map_size >> 20} MiB); indexing is "
                "paused and ratings still save; restart the daemon to grow it, or raise "
                "[storage] map_size_gb")
    free = shutil.disk_usage(path).free
    if free < MIN_RESERVE_BYTES:
        return (f"the disk holding {path} is full ({free >> 20} MiB free); indexing is "
                "paused until there is room again")
    return None
