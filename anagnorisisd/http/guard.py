"""Who may talk to the daemon: the checks every request passes, as aiohttp middleware.

The threat model is in docs/security.md. In short, the daemon listens on
loopback and a web page in the person's own browser is the likely attacker:

- **DNS rebinding.** A page on ``evil.example`` can re-point its name at
  127.0.0.1 and then read the daemon as "same origin". Its requests carry
  ``Host: evil.example``, so a Host that is not an IP address, ``localhost`` or
  a configured ``[server] allowed_hosts`` name is refused (403).
- **Cross-site requests.** Any page can POST to 127.0.0.1 with a "simple"
  request (``text/plain``, no preflight). A state-changing request (anything
  but GET/HEAD/OPTIONS) must come from the panel itself (``Origin`` equal to
  the request's own origin, or ``Sec-Fetch-Site: same-origin``/``none``), carry
  the token, or come from a client that is not a browser (no ``Origin`` and no
  ``Sec-Fetch-Site`` at all: browsers send one of them on every such request).
- **Other machines.** Only loopback is served without a token; ``serve``
  refuses to bind anything else unless ``[server] token`` is set. The token is
  compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether binding `host` exposes the daemon only to this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str) -> str | None:
    """Why the daemon must not listen on `host`, or None if it may."""
    if is_loopback(host) or token:
        return None
    return (f"[server] host = {host!r} would let other machines reach your library; set "
            "[server] token (see docs/security.md), or keep host = \"127.0.0.1\"")


def host_name(header: str) -> str:
    """The host part of a Host header ('[::1]:8765' -> '::1', 'a.b:80' -> 'a.b')."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:header.find("]")] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


def host_allowed(header: str | None, allowed: frozenset[str]) -> bool:
    """IP literals cannot be rebound, and 'localhost' resolves here; any other name must
    be one the person configured (`allowed`, lower-cased)."""
    if not header:
        return False
    name = host_name(header)
    return is_ip(name) or name in LOOPBACK_NAMES or name in allowed


def token_of(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[7:].strip()
    return request.query.get("token", "")


def token_matches(given: str, token: str) -> bool:
    # Headers may hold any byte (decoded with surrogateescape); compare bytes, never raise.
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"),
                               token.encode("utf-8", "surrogateescape"))


def same_origin(request: web.Request) -> bool | None:
    """True: the panel itself; False: another site; None: not a browser (no signal)."""
    fetch_site = request.headers.get("Sec-Fetch-Site")
    origin = request.headers.get("Origin")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    if origin is not None:
        if origin == "null":
            return False
        parts = urlsplit(origin)
        own = (request.headers.get("Host") or "").lower()
        return parts.scheme in ("http", "https") and parts.netloc.lower() == own
    return True if fetch_site is not None else None


def forbidden(message: str) -> web.Response:
    return web.json_response({"error": message}, status=403)


def guard_middleware(token: str, allowed_hosts: Iterable[str]) -> Any:
    allowed = frozenset(a.lower() for a in allowed_hosts)

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not host_allowed(request.headers.get("Host"), allowed):
            return forbidden(f"Host {request.headers.get('Host', '')!r} is not a name of this "
                             "daemon (add it to [server] allowed_hosts if it should be)")
        has_token = bool(token) and token_matches(token_of(request), token)
        if token and request.path.startswith("/api/") and not has_token:
            return web.json_response({"error": "missing or wrong token"}, status=401)
        if request.method not in SAFE_METHODS and not has_token and same_origin(request) is False:
            return forbidden("cross-site request refused: changes come from the panel itself "
                             "or a client with the token")
        return await handler(request)

    return guard
