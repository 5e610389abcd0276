"""The API as an attacker sees it: other web pages, DNS rebinding, traversal, bombs, junk bodies.

One real daemon on 127.0.0.1, with the small shipped model so that uploads are decoded
for real. Every request here must get a 2xx or a 4xx with a JSON reason: never a 500,
never a hang, never a byte of a file outside the library.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from anagnorisisd.app.shapes import make_library
from anagnorisisd.ml.manager import shipped_model_dir
from tests.helpers import REPO, Daemon, free_port, make_photo, wait_until, write_config

MINI = shipped_model_dir("shapes-clip-mini")
SECRET = b"secret-outside-the-library"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("hostile")
    library = root / "library"
    make_library(library, 12, seed=3)
    outside = root / "outside"
    outside.mkdir()
    make_photo(outside / "private.jpg", seed=99)
    (outside / "secret.txt").write_bytes(SECRET)
    (library / "private-link.jpg").symlink_to(outside / "private.jpg")
    (library / "passwd.jpg").symlink_to("/etc/passwd")
    (library / "escape").symlink_to(outside)  # a symlinked folder leading out
    shutil.copytree(MINI, root / "data" / "models" / "shapes-clip-mini")
    config = write_config(root / "config.toml", {
        "library": {"paths": [str(library)]},
        "storage": {"data_dir": str(root / "data")}, "server": {"port": free_port()},
        "model": {"name": "shapes-clip-mini", "auto_pull": False},
        "limits": {"max_pixels": 40_000_000},
    })
    daemon = Daemon(config, tomllib.loads(config.read_text())["server"]["port"])
    wait_until(lambda: daemon.status()["stages"]["clip"]["done"] == 12, timeout=60)
    yield {"daemon": daemon, "root": root, "library": library, "outside": outside}
    daemon.kill()


def raw(daemon: Daemon, method: str, path: str, body: bytes | None = None,
        headers: dict[str, str | bytes] | None = None) -> tuple[int, bytes]:
    """A request exactly as given: no helper adds or fixes a header."""
    conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=60)
    try:
        conn.putrequest(method, path, skip_host="Host" in (headers or {}),
                        skip_accept_encoding=True)
        for key, value in (headers or {}).items():
            conn.putheader(key, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def error_of(body: bytes) -> str:
    doc = json.loads(body)
    assert isinstance(doc.get("error"), str) and doc["error"], doc
    return str(doc["error"])


def an_image(world: dict[str, Any]) -> dict[str, Any]:
    items = world["daemon"].request("GET", "/api/images?per_page=50")["items"]
    return next(i for i in items if "private" not in i["path"])


def test_cross_site_requests_change_nothing(world) -> None:
    d, item = world["daemon"], an_image(world)
    files = json.dumps({"files": [{"id": item["id"], "path": item["path"]}]}).encode()
    evil = {"Origin": "http://evil.example", "Host": f"127.0.0.1:{d.port}"}
    # The classic: a form-like simple request that needs no CORS preflight.
    for content_type in ("text/plain", "application/x-www-form-urlencoded",
                         "application/json"):
        status, body = raw(d, "POST", "/api/files/trash", files,
                           {**evil, "Content-Type": content_type})
        assert status == 403, (content_type, status, body)
        assert "cross-site" in error_of(body)
    for method, path, payload in (("PUT", f"/api/images/{item['id']}/rating", b'{"rating": 1}'),
                                  ("POST", "/api/train", b""),
                                  ("PUT", "/api/library", b'{"paths": ["/tmp"]}'),
                                  ("POST", "/api/files/move", files)):
        status, _ = raw(d, method, path, payload, {**evil, "Content-Type": "application/json"})
        assert status == 403, (method, path)
        status, _ = raw(d, method, path, payload, {"Host": f"127.0.0.1:{d.port}",
                                                   "Sec-Fetch-Site": "cross-site",
                                                   "Content-Type": "application/json"})
        assert status == 403, (method, path)
    assert Path(item["path"]).exists()
    assert d.request("GET", f"/api/images/{item['id']}")["user_rating"] is None
    # The panel itself (same origin) and non-browser clients (no Origin) are served.
    same = {"Origin": f"http://127.0.0.1:{d.port}", "Host": f"127.0.0.1:{d.port}",
            "Sec-Fetch-Site": "same-origin", "Content-Type": "application/json"}
    status, _ = raw(d, "PUT", f"/api/images/{item['id']}/rating", b'{"rating": 4}', same)
    assert status == 200
    status, _ = raw(d, "DELETE", f"/api/images/{item['id']}/rating", None,
                    {"Host": f"localhost:{d.port}"})
    assert status == 200
    # A JSON endpoint never takes a body that is not declared as JSON.
    status, body = raw(d, "PUT", f"/api/images/{item['id']}/rating", b'{"rating": 4}',
                       {"Host": f"127.0.0.1:{d.port}", "Content-Type": "text/plain"})
    assert status == 415 and "application/json" in error_of(body)


def test_foreign_host_headers_are_refused(world) -> None:
    d, item = world["daemon"], an_image(world)
    for path in ("/api/status", f"/api/images/{item['id']}/file", "/api/images", "/",
                 "/api/library"):
        for host in ("evil.example", f"evil.example:{d.port}", "127.0.0.1.nip.io",
                     "localhost.evil.example"):
            status, body = raw(d, "GET", path, None, {"Host": host})
            assert status == 403, (path, host)
            assert b"Host" in body
    status, _ = raw(d, "PUT", "/api/library", b'{"paths": ["/tmp"]}',
                    {"Host": "evil.example", "Content-Type": "application/json"})
    assert status == 403
    for host in (f"127.0.0.1:{d.port}", f"localhost:{d.port}", f"[::1]:{d.port}"):
        status, _ = raw(d, "GET", "/api/status", None, {"Host": host})
        assert status == 200, host
    status, _ = raw(d, "GET", "/api/status", None, {"Host": ""})
    assert status == 403


def test_symlinks_out_of_the_library_are_never_served_or_indexed(world) -> None:
    d = world["daemon"]
    paths = [i["path"] for i in d.request("GET", "/api/images?per_page=100")["items"]]
    assert len(paths) == 12
    assert not any("private" in p or "passwd" in p or "escape" in p for p in paths)
    failures = {Path(f["path"]).name: f for f in d.request("GET", "/api/failures")["items"]}
    assert "outside the library" in failures["private-link.jpg"]["reason"]
    assert "outside the library" in failures["passwd.jpg"]["reason"]
    assert "not followed" in failures["escape"]["reason"]
    for image in d.request("GET", "/api/images?per_page=100")["items"]:
        status, body = raw(d, "GET", f"/api/images/{image['id']}/file", None,
                           {"Host": f"127.0.0.1:{d.port}"})
        assert status == 200 and SECRET not in body and b"root:" not in body


TRAVERSALS = ["../../../../etc/passwd", "..%2f..%2f..%2fetc%2fpasswd",
              "..%252f..%252f..%252fetc%252fpasswd", "%2e%2e/%2e%2e/etc/passwd",
              "/etc/passwd", "....//....//etc/passwd", "..\\..\\etc\\passwd", "%00", "\u202e"]


def test_traversal_in_every_parameter_gets_a_4xx_or_a_plain_answer(world) -> None:
    d, item = world["daemon"], an_image(world)
    host = {"Host": f"127.0.0.1:{d.port}"}
    routes = ["/api/images/{x}", "/api/images/{x}/file", "/api/images/{x}/thumbnail",
              "/api/images/{x}/similar", "/api/images/{x}/explain", "/ui/{x}"]
    queries = ["/api/images?q={x}", "/api/images?page={x}", "/api/images?per_page={x}",
               "/api/images?seed={x}", "/api/images?order={x}", "/api/duplicates?threshold={x}",
               "/api/failures?format={x}", "/api/rate-next?count={x}",
               f"/api/images/{item['id']}/similar?page={{x}}", "/api/status?token={x}"]
    tried = 0
    for payload in TRAVERSALS:
        quoted = payload.replace("\u202e", "%E2%80%AE").replace("\\", "%5C")
        for template in routes + queries:
            status, body = raw(d, "GET", template.format(x=quoted), None, host)
            tried += 1
            assert status < 500, (template, payload, status, body[:200])
            assert b"root:x:0:0" not in body and SECRET not in body
            if status >= 400:
                error_of(body)
    assert tried == len(TRAVERSALS) * (len(routes) + len(queries))


def test_malformed_and_oversized_bodies(world) -> None:
    d, item = world["daemon"], an_image(world)
    h = {"Host": f"127.0.0.1:{d.port}", "Content-Type": "application/json"}
    rating = f"/api/images/{item['id']}/rating"
    cases = [
        ("PUT", rating, b"[" * 100_000 + b"]" * 100_000, 400, "nested"),
        ("PUT", rating, b"{not json", 400, "JSON"),
        ("PUT", rating, b'{"rating": "7"}', 400, "number"),
        ("PUT", rating, b'{"rating": NaN}', 400, "0 to 10"),
        ("PUT", rating, b"\xff\xfe", 400, "JSON"),
        ("PUT", "/api/library", b'{"paths": "/tmp"}', 400, "list"),
        ("POST", "/api/files/trash", b'{"files": [{"id": "zz", "path": 1}]}', 400, "id"),
        ("POST", "/api/files/trash", json.dumps({"files": [{"id": "00" * 32,
                                                            "path": "/etc/passwd"}]}).encode(),
         404, "not a file of image"),
    ]
    for method, path, body, code, words in cases:
        status, answer = raw(d, method, path, body, h)
        assert status == code, (path, body[:40], status, answer[:200])
        assert words in error_of(answer), (words, answer[:200])
    big = b"\0" * ((64 << 20) + 1)
    status, answer = raw(d, "POST", "/api/search/by-image", big,
                         {"Host": h["Host"], "Content-Type": "application/octet-stream"})
    assert status == 413 and "MiB" in error_of(answer)
    status, answer = raw(d, "GET", "/api/status", None,
                         {"Host": h["Host"],
                          "Authorization": "Bearer \u00e9t\u00e9\u2603".encode()})
    assert status == 200  # no token configured: any Authorization header is harmless
    status, answer = raw(d, "DELETE", "/api/status", None, {"Host": h["Host"]})
    assert status == 405 and error_of(answer)


def test_move_destinations_that_cannot_be(world) -> None:
    d, item = world["daemon"], an_image(world)
    files = [{"id": item["id"], "path": item["path"]}]
    (world["library"] / "a-file").write_text("x")
    # Malformed: 400. Outside the library: 403. What the disk refuses: 409.
    for destination, words, code in (
            ("bad\u0000name", "NUL", 400), ("a-file", "not a folder", 409),
            ("x" * 5000, "cannot create", 409), ("../outside", "not inside", 403),
            ("escape", "not inside", 403), ("/etc", "not inside", 403), ("", "folder", 400),
            (7, "folder", 400)):
        status, answer = raw(d, "POST", "/api/files/move",
                             json.dumps({"files": files, "destination": destination}).encode(),
                             {"Host": f"127.0.0.1:{d.port}", "Content-Type": "application/json"})
        assert status == code, (destination, answer)
        assert words in error_of(answer), (destination, answer)
    assert Path(item["path"]).exists()
    assert not (world["outside"] / Path(item["path"]).name).exists()


def test_library_paths_that_are_not_a_photo_library(world) -> None:
    d = world["daemon"]
    h = {"Host": f"127.0.0.1:{d.port}", "Content-Type": "application/json"}
    for paths, words in ((["/etc"], "system folder"), (["/proc/self"], "system folder"),
                         (["/"], "system folder"), ([".."], "absolute"),
                         (["relative/dir"], "absolute"), (["/no/such/dir"], "no such"),
                         ([str(world["root"] / "data")], "data directory"),
                         ([str(world["root"] / "config.toml")], "not a directory")):
        status, answer = raw(d, "PUT", "/api/library", json.dumps({"paths": paths}).encode(), h)
        assert status == 400 and words in error_of(answer), (paths, answer)
    assert d.request("GET", "/api/library")["paths"] == [str(world["library"])]


def test_decompression_bombs_are_refused_with_a_reason(world, tmp_path: Path) -> None:
    d = world["daemon"]
    bomb = io.BytesIO()
    Image.new("L", (9000, 9000)).save(bomb, "PNG", optimize=True)  # 81 MP in ~80 KB
    assert len(bomb.getvalue()) < 200_000
    status, answer = raw(d, "POST", "/api/search/by-image", bomb.getvalue(),
                         {"Host": f"127.0.0.1:{d.port}", "Content-Type": "image/png"})
    assert status == 413 and "MP" in error_of(answer)
    for junk in (b"\x89PNG\r\n\x1a\n" + b"\0" * 100, b"GIF89a\xff\xff\xff\xff", b"hello",
                 b"\xff\xd8\xff\xe0" + b"\0" * 50):
        status, answer = raw(d, "POST", "/api/search/by-image", junk,
                             {"Host": f"127.0.0.1:{d.port}", "Content-Type": "image/jpeg"})
        assert status == 422, (junk[:10], answer)  # well-formed bytes, no picture
        error_of(answer)
    # The same bomb in the library is a recorded failure, not a decode.
    (world["library"] / "bomb.png").write_bytes(bomb.getvalue())
    wait_until(lambda: any(f["path"].endswith("bomb.png") for f in
                           d.request("GET", "/api/failures")["items"]), timeout=30)
    reason = next(f["reason"] for f in d.request("GET", "/api/failures")["items"]
                  if f["path"].endswith("bomb.png"))
    assert "max_pixels" in reason


def test_an_open_bind_without_a_token_does_not_start(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "::", "192.0.2.1"):
        config = write_config(tmp_path / "open.toml", {
            "storage": {"data_dir": str(tmp_path / "data")},
            "server": {"host": host, "port": free_port()}})
        result = subprocess.run([sys.executable, "-m", "anagnorisisd", "serve", "--config",
                                 str(config)], capture_output=True, text=True, timeout=60,
                                cwd=REPO, env={**os.environ})
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "token" in lines[0], lines
