"""`stacks` and `cull`: the running daemon's stacks and duplicate groups, and trashing what
its suggested keepers leave over.

Both ask the daemon: the grouping needs the loaded index, which only the daemon holds.
`cull` always shows the summary (how many files, how many bytes) first; without
`--dry-run` it then moves those files to the system trash, never deleting anything, and
prints where each went, which is the undo list.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from anagnorisisd.cli import client
from anagnorisisd.cli.progress import plural
from anagnorisisd.config import Config, load_config

NO_DAEMON = "anagnorisisd: no daemon answers; start it with 'anagnorisisd serve'"


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    stacks = sub.add_parser("stacks", parents=[common],
                            help="bursts and repeated shots, with the keeper to suggest")
    stacks.add_argument("--json", action="store_true")
    stacks.set_defaults(func=cmd_stacks)
    cull = sub.add_parser("cull", parents=[common],
                          help="trash every non-keeper of the stacks and duplicate groups")
    cull.add_argument("--dry-run", action="store_true", help="only say what would be trashed")
    cull.set_defaults(func=cmd_cull)


def ask(config: Config, method: str, path: str, body: Any = None) -> Any:
    try:
        answer = client.call(config, method, path, body, timeout=300)
    except client.DaemonError as exc:
        raise SystemExit(f"anagnorisisd: {exc}") from None
    if answer is None:
        raise SystemExit(NO_DAEMON)
    return answer


def cmd_stacks(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    result = ask(config, "GET", "/api/stacks")
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    if result.get("notice"):
        print(result["notice"], file=sys.stderr)
    for stack in result["stacks"]:
        keeper = ask(config, "GET", f"/api/images/{stack['keeper']}")
        print(f"{len(stack['members'])} shots; keep {keeper['path']}: {stack['reason']}")
    print(plural(result["total"], "stack"), file=sys.stderr)
    return 0


KEPT_WHOLE = ("bracket", "panorama")
"""Groups made to be kept whole: every shot is needed to merge them later."""


def leftovers(config: Config) -> tuple[list[dict[str, Any]], int, int]:
    """Every file that is not its group's keeper, how many photos were held back, and the
    generation of the decisions it read (the trash refuses if they change meanwhile). A
    photo that one group keeps is never trashed because another group did not choose it,
    nor one picked in the panel's compare view; of exact copies, the copies go and the kept
    file stays. A photo the model grouped but whose pixels do not look like the keeper's
    stays too, unless the person rejected it: a destructive act never rests on one model's
    cosine alone."""
    stacks = ask(config, "GET", "/api/stacks")["stacks"]
    groups = ask(config, "GET", "/api/duplicates")["groups"]
    queue = ask(config, "GET", "/api/cull")
    decisions = {image: decision for group in queue["groups"]
                 for image, decision in group["decisions"].items()}
    picked = {image for image, decision in decisions.items() if decision == "pick"}
    kept = {s["keeper"] for s in stacks} | {g["keeper"]["id"] for g in groups} | picked
    whole = [s for s in stacks if s.get("kind") in KEPT_WHOLE]
    kept |= {member for s in whole for member in s["members"]}  # never culled, any group
    stacks = [s for s in stacks if s not in whole]
    held: set[str] = set()

    def confirmed(image: str, alike: bool) -> bool:
        if alike or decisions.get(image) == "reject":
            return True
        held.add(image)
        return False

    files: dict[str, dict[str, Any]] = {}
    for stack in stacks:
        for member in stack["members"]:
            if member in kept or not confirmed(member, stack["alike"].get(member, False)):
                continue
            image = ask(config, "GET", f"/api/images/{member}")
            twins = [ask(config, "GET", f"/api/images/{raw}") for raw in image.get("pair", [])]
            for one in [image, *twins]:  # a RAW+JPEG pair goes whole
                for path in one["paths"]:
                    files[path] = {"id": one["id"], "path": path,
                                   "bytes": one["file_size"] or 0}
    for group in groups:
        keeper = group["keeper"]
        for f in group["files"]:
            copy_of_keeper = f["id"] == keeper["id"] and f["path"] != keeper["path"]
            if copy_of_keeper or (f["id"] not in kept and confirmed(f["id"], f.get("alike",
                                                                                  False))):
                files.setdefault(f["path"], {"id": f["id"], "path": f["path"],
                                             "bytes": f["file_size"] or 0})
    held -= {f["id"] for f in files.values()}
    return sorted(files.values(), key=lambda f: f["path"]), len(held), queue["generation"]


def cmd_cull(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    notice = ask(config, "GET", "/api/stacks").get("notice")
    if notice:
        print(f"warning: {notice}", file=sys.stderr)
    files, held, generation = leftovers(config)
    total = sum(f["bytes"] for f in files)
    for f in files:
        print(f"{'would trash' if args.dry_run else 'trash'} {f['path']}")
    print(f"{plural(len(files), 'file')}, {total / 1e6:.1f} MB, "
          f"{'is' if len(files) == 1 else 'are'} not their group's keeper",
          file=sys.stderr)
    if held:
        print(f"{plural(held, 'photo')} the model grouped {'stays' if held == 1 else 'stay'}: "
              "not alike at pixel level; reject them in the panel's cull view to trash them",
              file=sys.stderr)
    if args.dry_run or not files:
        return 0
    done = ask(config, "POST", "/api/files/trash",  # 409 if a pick came in since the plan
               {"files": [{"id": f["id"], "path": f["path"]} for f in files],
                "generation": generation})
    for moved in done["trashed"]:
        print(f"moved to the trash: {moved}")
    for failed in done["failed"]:
        print(f"not moved: {failed}", file=sys.stderr)
    print(f"{plural(len(done['trashed']), 'file')} moved to {done['trash']}; "
          "restore them from there",
          file=sys.stderr)
    return 0 if not done["failed"] else 1
