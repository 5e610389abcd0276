"""`geotag`: positions for the photos that have none, from GPS tracks.

    anagnorisisd geotag TRACK.gpx [--offset SECONDS] [--max-gap SECONDS] [--dry-run]
                       [--write-xmp]

Each photo without a position of its own is placed on the tracks by its capture time in
UTC (its own zone where the camera wrote one, else --offset: the camera clock's difference
from UTC, 7200 for a camera set to UTC+2) and interpolated between the points before and
after; one farther than --max-gap seconds from any point stays where it was. --dry-run
says what would be placed and stores nothing. The daemon does the work and keeps the
positions (source "gpx"); a photo's own GPS is never overwritten.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from anagnorisisd.cli.culling import ask
from anagnorisisd.cli.progress import plural
from anagnorisisd.config import load_config

MAX_TRACK_BYTES = 50 << 20


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    geotag = sub.add_parser("geotag", parents=[common],
                            help="positions for photos without one, from GPX tracks")
    geotag.add_argument("tracks", nargs="+", type=Path, metavar="TRACK.gpx")
    geotag.add_argument("--offset", type=int, metavar="SECONDS",
                        help="the camera clock's difference from UTC, for photos that do "
                             "not say their zone (default 0)")
    geotag.add_argument("--max-gap", type=int, default=300, metavar="SECONDS",
                        help="farthest from a track point a photo may be (default 300)")
    geotag.add_argument("--dry-run", action="store_true", help="say, store nothing")
    geotag.add_argument("--write-xmp", action="store_true",
                        help="also write the positions to the photos' XMP sidecars (as "
                             "[ratings] write_xmp does for every change)")
    geotag.add_argument("--json", action="store_true")
    geotag.set_defaults(func=cmd_geotag)


def cmd_geotag(args: argparse.Namespace) -> int:
    """Each track in turn (a photo two tracks both place takes the later one's)."""
    config = load_config(args.config)
    tracks = []
    for track in args.tracks:
        try:
            if track.stat().st_size > MAX_TRACK_BYTES:
                raise SystemExit(f"anagnorisisd: {track} is over {MAX_TRACK_BYTES >> 20} MB")
            tracks.append((track, track.read_bytes()))
        except OSError as exc:
            raise SystemExit(f"anagnorisisd: cannot read {track}: {exc.strerror}") from None
    query = f"?max_gap_s={args.max_gap}&apply={'false' if args.dry_run else 'true'}"
    if args.offset is not None:
        query += f"&offset_s={args.offset}"
    if args.write_xmp:
        query += "&write_xmp=true"
    for track, data in tracks:
        answer = ask(config, "POST", "/api/geotag" + query, data)
        if args.json:
            print(json.dumps({"track": str(track), **answer}, indent=1))
            continue
        verb = "would place" if args.dry_run else "placed"
        print(f"{track.name}: {answer['track']['points']} timed points; {verb} "
              f"{plural(answer['count'], 'photo')}, {answer['unmatched']} without a point "
              f"within {args.max_gap} s")
    return 0
