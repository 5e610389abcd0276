"""`album` and `memories`: albums of the running daemon, and copying one out.

    anagnorisisd album list                       every album, its count, smart ones' query
    anagnorisisd album new NAME [--query Q]       a manual album, or a smart one
    anagnorisisd album add NAME PATH...           put photos (by path) in a manual album
    anagnorisisd album remove NAME PATH...
    anagnorisisd album export NAME DIR [--link]   copy (or hard-link) its files and sidecars
    anagnorisisd memories [--date YYYY-MM-DD]     this day in the years before

The daemon holds the albums; an export copies each file once, beside its sidecars, with a
progress bar, and never overwrites a file already in DIR (it stops and says which).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import urllib.parse
from pathlib import Path
from typing import Any

from anagnorisisd.cli.concepts import photo_id
from anagnorisisd.cli.culling import ask
from anagnorisisd.cli.progress import ProgressBar, plural
from anagnorisisd.config import Config, load_config


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    album = sub.add_parser("album", parents=[common], help="albums: list, make, fill, export")
    actions = album.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", parents=[common], help="every album")
    listing.add_argument("--json", action="store_true")
    new = actions.add_parser("new", parents=[common], help="a new album")
    new.add_argument("name")
    new.add_argument("--query", help='a smart album: what this search finds, live '
                                     '(like "person:Ana rating>=7")')
    for verb in ("add", "remove"):
        change = actions.add_parser(verb, parents=[common], help=f"{verb} photos, by path")
        change.add_argument("name")
        change.add_argument("paths", nargs="+", metavar="PHOTO", help="paths or image ids")
    export = actions.add_parser("export", parents=[common],
                                help="copy an album's files and sidecars into a folder")
    export.add_argument("name")
    export.add_argument("directory", type=Path, metavar="DIR")
    export.add_argument("--link", action="store_true", help="hard-link instead of copying")
    album.set_defaults(func=cmd_album)
    memories = sub.add_parser("memories", parents=[common],
                              help="this day in the years before, best first")
    memories.add_argument("--date", help="YYYY-MM-DD (default: today)")
    memories.add_argument("--json", action="store_true")
    memories.set_defaults(func=cmd_memories)


def find_album(config: Config, name: str) -> dict[str, Any]:
    albums = ask(config, "GET", "/api/albums")["albums"]
    wanted = " ".join(name.split()).casefold()
    for album in albums:
        if " ".join(album["name"].split()).casefold() == wanted:
            return dict(album)
    raise SystemExit(f"anagnorisisd: no album named {name!r} ('anagnorisisd album list' "
                     "lists them)")


def cmd_album(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.action == "new":
        body = {"name": args.name, **({"query": args.query} if args.query else {})}
        album = ask(config, "POST", "/api/albums", body)
        kind = f"smart, {album['query']!r}" if album["query"] else "manual"
        print(f"{album['name']} ({kind}): {plural(album['count'], 'photo')}")
        return 0
    if args.action in ("add", "remove"):
        album = find_album(config, args.name)
        ids = [photo_id(p) for p in args.paths]
        album = ask(config, "POST", f"/api/albums/{album['id']}/photos", {args.action: ids})
        print(f"{album['name']}: {plural(album['count'], 'photo')}")
        return 0
    if args.action == "export":
        return export(config, find_album(config, args.name), args.directory, args.link)
    albums = ask(config, "GET", "/api/albums")["albums"]
    if args.json:
        print(json.dumps(albums, indent=1))
        return 0
    for album in albums:
        query = f"  smart: {album['query']}" if album["query"] else ""
        print(f"{album['name']:<30} {plural(album['count'], 'photo'):>12}{query}")
    print(plural(len(albums), "album"))
    return 0


def export(config: Config, album: dict[str, Any], directory: Path, link: bool) -> int:
    """Every file of the album and its sidecars into DIR, names kept (a clash between two
    photos' names gets a short suffix from the photo's id); nothing there is overwritten."""
    files = ask(config, "GET", f"/api/albums/{album['id']}/files")["files"]
    plan: list[tuple[str, Path]] = []
    taken: set[str] = set()
    for photo in files:
        for source in [*photo["paths"], *photo["sidecars"]]:
            name = os.path.basename(source)
            if name in taken:
                stem, ext = os.path.splitext(name)
                name = f"{stem}-{photo['id'][:8]}{ext}"
            taken.add(name)
            plan.append((source, directory / name))
    clash = next((target for _source, target in plan if os.path.lexists(target)), None)
    if clash is not None:
        raise SystemExit(f"anagnorisisd: {clash} is already there; export into an empty "
                         "folder (nothing was copied)")
    directory.mkdir(parents=True, exist_ok=True)
    bar = ProgressBar(f"export {album['name']}", "files")
    for done, (source, target) in enumerate(plan, 1):
        try:
            if link:
                os.link(source, target)
            else:
                shutil.copy2(source, target)
        except FileNotFoundError:
            raise SystemExit(f"anagnorisisd: {source} is gone (moved or deleted since it was "
                             f"indexed); {done - 1} of {len(plan)} files are in {directory}"
                             ) from None
        bar.update(done, len(plan))
    bar.update(len(plan), len(plan), force=True)
    print(f"{plural(len(files), 'photo')}, {plural(len(plan), 'file')} "
          f"{'linked' if link else 'copied'} into {directory}")
    return 0


def cmd_memories(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    query = "?date=" + urllib.parse.quote(args.date) if args.date else ""
    answer = ask(config, "GET", "/api/memories" + query)
    if args.json:
        print(json.dumps(answer, indent=1))
        return 0
    for group in answer["memories"]:
        print(f"{group['title']}: {plural(group['total'], 'photo')}")
        for item in group["items"]:
            image = ask(config, "GET", f"/api/images/{item['id']}")
            more = f"  (+{item['stands_for'] - 1} alike)" if item["stands_for"] > 1 else ""
            print(f"  {image['path']}{more}")
    if not answer["memories"]:
        print(f"nothing taken on this day in the years before ({answer['date']})")
    return 0
