"""`people`: who the running daemon found in the photos; naming and merging them.

    anagnorisisd people                      everyone, the largest first
    anagnorisisd people name PERSON_ID Ana   name (or rename) a person
    anagnorisisd people merge PERSON_ID OTHER_ID
    anagnorisisd people regroup              group every face afresh (names kept)

It asks the daemon, which holds the people in memory; the edits are the API's, so a name
given here is written to the store before the command says it was.
"""

from __future__ import annotations

import argparse
import json
import re
from typing import Any

from anagnorisisd.cli.culling import ask
from anagnorisisd.cli.progress import plural
from anagnorisisd.config import load_config


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    people = sub.add_parser("people", parents=[common],
                            help="the people found in the photos; name and merge them")
    people.add_argument("--json", action="store_true")
    people.add_argument("--hidden", action="store_true", help="list the hidden people")
    actions = people.add_subparsers(dest="action")
    name = actions.add_parser("name", help="name a person")
    name.add_argument("person")
    name.add_argument("name", help='the name; "" clears it')
    merge = actions.add_parser("merge", help="merge the first person into the second")
    merge.add_argument("person")
    merge.add_argument("into")
    actions.add_parser("regroup", help="group every face afresh, in the background")
    people.set_defaults(func=cmd_people)


def person_id(raw: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{12}", raw):
        raise SystemExit(f"anagnorisisd: no such person {raw!r} (ids are 12 hex digits; "
                         "'anagnorisisd people' lists them)")
    return raw


def cmd_people(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    for key in ("person", "into"):
        if getattr(args, key, None) is not None:
            person_id(getattr(args, key))
    if args.action == "name":
        person = ask(config, "PUT", f"/api/people/{args.person}", {"name": args.name or None})
        print(f"{person['id']}: {person['name'] or '(unnamed)'}, "
              f"{plural(person['photos'], 'photo')}")
        return 0
    if args.action == "merge":
        person = ask(config, "POST", f"/api/people/{args.person}/merge", {"into": args.into})
        print(f"merged into {person['id']} ({person['name'] or 'unnamed'}): "
              f"{plural(person['faces'], 'face')} in {plural(person['photos'], 'photo')}")
        return 0
    if args.action == "regroup":
        ask(config, "POST", "/api/people/regroup")
        print("grouping every face afresh in the background; names and corrections stay")
        return 0
    listing = ask(config, "GET", "/api/people" + ("?hidden=1" if args.hidden else ""))
    if args.json:
        print(json.dumps(listing, indent=1))
        return 0
    for person in listing["people"]:
        print(f"{person['id']}  {person['name'] or '(unnamed)':<24} "
              f"{plural(person['faces'], 'face')} in {plural(person['photos'], 'photo')}")
    summary = listing["summary"]
    print(f"{plural(len(listing['people']), 'person', 'people')}; "
          f"{summary['grouped']} of {plural(summary['faces'], 'face')} grouped", flush=True)
    return 0
