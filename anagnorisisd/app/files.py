"""Cleaning up: trash (never delete), move within the library, put back, reveal.

A file is named by its image id *and* path, and acted on only if the store holds that
path for that id, so a request can never reach a file outside the library. Trash goes
through send2trash (the desktop's trash, restorable); nothing here deletes a file
outright, and a trash is undone by `restore_files`. What a request asks wrongly is one of
the errors below, each a sentence, which the HTTP layer answers with its status.
"""

from __future__ import annotations

import logging
import os
import shutil
from typing import TYPE_CHECKING, Any

from anagnorisisd.app import trash_can
from anagnorisisd.ingest.safe_io import inside, real_roots
from anagnorisisd.ingest.scanner import normalise_root
from anagnorisisd.store.database import StoreError

if TYPE_CHECKING:
    from anagnorisisd.app.library import Library

log = logging.getLogger(__name__)
MAX_FILES = 10_000
DECISIONS_SETTING = "review.generation"
"""How many times picks and rejects have changed (the culling feature counts them in the
store): a trash made from a cull plan names the count it was planned at, and is refused
when a pick or reject came in since."""


class Malformed(ValueError):
    """The request is not what the API takes (400)."""


class Unknown(LookupError):
    """It names a file the library does not have (404)."""


class Outside(PermissionError):
    """It leads outside the library (403)."""


class Refused(RuntimeError):
    """The library or the disk as they are now refuse it (409)."""


def trash_as_planned(library: Library, pairs: list[tuple[bytes, str]],
                     generation: int | None) -> dict[str, Any]:
    """Trash; when the request names a cull plan's `generation`, a pick or reject made
    since that plan refuses the whole trash."""
    if generation is not None and generation != int(
            library.store.get_setting(DECISIONS_SETTING) or 0):
        raise Refused("picks or rejects changed since this plan was made; look at the plan "
                      "again")
    return trash(library, pairs)


def move(library: Library, paths: list[str], destination: Any) -> dict[str, Any]:
    target = move_target(library, destination)
    moved, failed = [], []
    for path in paths:
        dest = os.path.join(target, os.path.basename(path))
        if os.path.lexists(dest):
            failed.append({"path": path, "error": f"{dest} already exists"})
            continue
        try:
            shutil.move(path, dest)
            moved.append({"from": path, "to": dest})
        except OSError as exc:
            failed.append({"path": path, "error": exc.strerror or str(exc)})
    return {"moved": moved, "failed": failed}


def trash_location() -> str:
    return str(trash_can.home_trash() / "files")



def checked_files(library: Library, body: Any) -> list[str]:
    """The paths named in {"files": [{"id", "path"}]}, each verified against the store."""
    return [path for _, path in checked_pairs(library, body)]


def checked_pairs(library: Library, body: Any) -> list[tuple[bytes, str]]:
    """(content, path) for each of {"files": [{"id", "path"}]}, verified against the store."""
    if not isinstance(body, dict) or not isinstance(body.get("files"), list):
        raise Malformed('send JSON like {"files": [{"id": "...", "path": "..."}]}')
    files = body["files"]
    if not files or len(files) > MAX_FILES:
        raise Malformed(f"name between 1 and {MAX_FILES} files")
    paths = []
    roots = real_roots(library.roots)
    for item in files:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(
                item.get("path"), str):
            raise Malformed("each file needs an id and a path")
        try:
            content = bytes.fromhex(item["id"])
        except ValueError:
            raise Malformed(f"{item['id']!r} is not an image id") from None
        if len(content) != 32 or item["path"] not in library.store.paths_for(content):
            raise Unknown(f"{item['path']!r} is not a file of image {item['id']!r}")
        # The store knows the path; the disk must still agree that it lies in the library
        # (a folder swapped for a symlink since indexing must not lead outside).
        if not inside(os.path.realpath(os.path.dirname(item["path"])), roots):
            raise Outside(f"{item['path']!r} is no longer inside the library")
        paths.append((content, item["path"]))
    return paths



def with_twins(library: Library, files: list[tuple[bytes, str]]) -> list[tuple[bytes, str]]:
    """The files named, each followed by its RAW twin's file of the same name beside it
    (a RAW+JPEG pair goes to the trash whole)."""
    out: list[tuple[bytes, str]] = []
    for content, path in files:
        out.append((content, path))
        stem = os.path.splitext(path)[0].casefold()
        for raw in library.search.catalog.twins(content):
            out += [(raw, p) for p in sorted(library.store.paths_for(raw))
                    if os.path.splitext(p)[0].casefold() == stem and (raw, p) not in out]
    return out



def trash(library: Library, pairs: list[tuple[bytes, str]]) -> dict[str, Any]:
    """To the system trash, each trash recorded (trash_can) so that it, and only it, can be
    put back by /api/files/restore."""
    from send2trash import send2trash

    done, failed, records = [], [], {}
    pairs = with_twins(library, pairs)
    for content, path in pairs:
        try:
            size = os.lstat(path).st_size
            send2trash(path)
        except (OSError, Exception) as exc:  # send2trash raises its own TrashPermissionError
            failed.append({"path": path, "error": str(exc)})
            continue
        done.append(path)
        entry = trash_can.find_entry(path, size)
        if entry is None:
            log.warning("trashed %s, but found no safe trash entry for it: it cannot be "
                        "put back from here", path)
            continue
        records[trash_can.record_name(path)] = trash_can.record(path, entry, content, size)
    try:
        with library.store.write() as w:
            for name, kept in records.items():
                w.set_setting(name, kept)
    except StoreError as exc:  # the files are in the trash; the desktop can put them back
        log.warning("could not record %d trash(es) for undo: %s", len(records), exc)
    forget_gone(library, done)
    return {"trashed": done, "failed": failed, "trash": trash_location()}



def forget_gone(library: Library, paths: list[str]) -> None:
    """Files this daemon just moved away leave the store now, not when the watcher's event
    arrives, so the very next listing no longer shows them (the event is then a no-op)."""
    gone = [p for p in paths if not os.path.lexists(p)]
    if not gone:
        return
    try:
        with library.store.write() as w:
            for path in gone:
                w.remove(path)
    except StoreError as exc:  # the watcher and the next scan will do it
        log.warning("could not forget trashed files at once: %s", exc)



def move_target(library: Library, destination: Any) -> str:
    """The folder a move goes to: inside a library root once every link is resolved, and
    created if it does not exist yet."""
    if not isinstance(destination, str) or not destination.strip():
        raise Malformed("destination must be a folder inside the library")
    if "\x00" in destination:
        raise Malformed("destination cannot contain a NUL character")
    roots = library.roots
    if not roots:
        raise Refused("no library is set")
    target = normalise_root(destination if os.path.isabs(destination)
                            else os.path.join(roots[0], destination))
    reals = real_roots(roots)
    if not inside(os.path.realpath(target), reals):
        raise Outside(f"{destination!r} is not inside the library")
    if os.path.lexists(target) and not os.path.isdir(target):
        raise Refused(f"{destination!r} exists and is not a folder")
    try:
        os.makedirs(target, exist_ok=True)
    except OSError as exc:  # the disk's say (no permission, a name too long): not the request's
        raise Refused(f"cannot create {destination!r}: {exc.strerror or exc}") from None
    if not inside(os.path.realpath(target), reals):  # a link swapped in meanwhile
        raise Outside(f"{destination!r} is not inside the library")
    return os.path.realpath(target)


def restore_files(library: Library, body: Any) -> dict[str, Any]:
    """Undo a trash: each path (as trashed from this library) back where it was."""
    paths = body.get("paths") if isinstance(body, dict) else None
    if not isinstance(paths, list) or not 1 <= len(paths) <= MAX_FILES or not all(
            isinstance(p, str) and os.path.isabs(p) and "\x00" not in p for p in paths):
        raise Malformed(f'send JSON like {{"paths": ["/abs/path.jpg"]}} with 1 to {MAX_FILES}')
    roots = real_roots(library.roots)
    outside = [p for p in paths if not inside(os.path.realpath(os.path.dirname(p)), roots)]
    if outside:
        raise Outside(f"{outside[0]!r} is not inside the library")
    restored, failed = [], []
    for path in paths:
        name = trash_can.record_name(path)
        try:
            trash_can.restore(path, library.store.get_setting(name))
        except trash_can.RestoreError as exc:
            failed.append({"path": path, "error": str(exc)})
            continue
        restored.append(path)
        try:
            with library.store.write() as w:
                w.delete_setting(name)
        except StoreError as exc:  # the file is back; a stale record only fails a later undo
            log.warning("could not forget the trash record of %s: %s", path, exc)
    return {"restored": restored, "failed": failed}



def reveal_command(path: str) -> list[str] | None:
    """How this desktop shows a file in its folder, if it has a way."""
    if shutil.which("dbus-send") and os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return ["dbus-send", "--session", "--dest=org.freedesktop.FileManager1",
                "--type=method_call", "/org/freedesktop/FileManager1",
                "org.freedesktop.FileManager1.ShowItems", f"array:string:file://{path}",
                "string:"]
    if shutil.which("xdg-open") and os.environ.get("DISPLAY", os.environ.get("WAYLAND_DISPLAY")):
        return ["xdg-open", os.path.dirname(path)]
    return None
