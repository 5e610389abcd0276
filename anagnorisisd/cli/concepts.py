"""`concept`: teach the running daemon a word of your own from a few photos.

    anagnorisisd concept list                      every concept with its numbers
    anagnorisisd concept new "Rex"                 a new concept
    anagnorisisd concept add Rex PHOTO...          these are Rex (paths or image ids)
    anagnorisisd concept add Rex --not PHOTO...    these are not
    anagnorisisd concept train Rex                 train now and show the numbers

A photo given by its path is named by its content, as the daemon names it (the BLAKE3
of its bytes), so a copy or a moved file is the same photo. The answers are the API's:
written to the store before the command says they were.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from typing import Any

from blake3 import blake3

from anagnorisisd.cli.culling import ask
from anagnorisisd.cli.progress import plural
from anagnorisisd.config import Config, load_config

ID_RE = re.compile(r"[0-9a-f]{64}")


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    concept = sub.add_parser("concept", parents=[common],
                             help="teach it a word of your own from a few photos")
    concept.add_argument("--json", action="store_true")
    actions = concept.add_subparsers(dest="action")
    actions.add_parser("list", help="every concept with its numbers")
    new = actions.add_parser("new", help="a new concept")
    new.add_argument("name")
    add = actions.add_parser("add", help="photos that are (or, with --not, are not) it")
    add.add_argument("concept", help="its name or id")
    add.add_argument("photos", nargs="+", help="paths or image ids")
    add.add_argument("--not", dest="negative", action="store_true",
                     help="these photos are not it")
    train = actions.add_parser("train", help="train now and show the numbers")
    train.add_argument("concept", help="its name or id")
    concept.set_defaults(func=cmd_concept)


def photo_id(photo: str) -> str:
    """An image id as given, or the content id of the file at that path."""
    if ID_RE.fullmatch(photo):
        return photo
    if not os.path.isfile(photo):
        raise SystemExit(f"anagnorisisd: {photo!r} is neither a file nor an image id")
    hasher = blake3()
    with open(photo, "rb") as f:
        while chunk := f.read(1 << 20):
            hasher.update(chunk)
    return hasher.hexdigest()


def concept_id(config: Config, wanted: str) -> str:
    concepts = ask(config, "GET", "/api/concepts")["concepts"]
    for concept in concepts:
        if wanted in (concept["id"], concept["name"]) or \
                concept["name"].casefold() == wanted.casefold():
            return str(concept["id"])
    names = ", ".join(c["name"] for c in concepts) or "none yet"
    raise SystemExit(f"anagnorisisd: no concept {wanted!r} (there are: {names}; "
                     "'anagnorisisd concept new NAME' makes one)")


def describe(concept: dict[str, Any]) -> str:
    numbers = ("not trained yet" if concept["precision"] is None else
               f"precision {concept['precision']:.0%}, recall {concept['recall']:.0%} "
               f"on photos it did not learn from")
    suggestions = concept["suggestions"]
    count = suggestions if isinstance(suggestions, int) else len(suggestions)
    return (f"{concept['id']}  {concept['name']}: {plural(concept['examples'], 'example')}, "
            f"{numbers}; {plural(count, 'suggestion')}. {concept['verdict']}")


def cmd_concept(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    if args.action == "new":
        created = ask(config, "POST", "/api/concepts", {"name": args.name})
        print(f"{created['id']}  {created['name']}: mark a few photos with "
              f"'anagnorisisd concept add \"{created['name']}\" PHOTO...'")
        return 0
    if args.action == "add":
        cid = concept_id(config, args.concept)
        ids = [photo_id(p) for p in args.photos]
        answer = "no" if args.negative else "yes"
        ask(config, "POST", f"/api/concepts/{cid}/answers", {"images": ids, "answer": answer})
        print(f"{plural(len(ids), 'photo')} marked {'not ' if args.negative else ''}"
              f"{args.concept}; training follows in the background")
        return 0
    if args.action == "train":
        concept = ask(config, "POST", f"/api/concepts/{concept_id(config, args.concept)}/train")
        print(json.dumps(concept, indent=1) if args.json else describe(concept))
        return 0
    listing = ask(config, "GET", "/api/concepts")
    if args.json:
        print(json.dumps(listing, indent=1))
        return 0
    for concept in listing["concepts"]:
        print(describe(concept))
    if not listing["concepts"]:
        print("no concepts yet: 'anagnorisisd concept new NAME' makes one")
    return 0
