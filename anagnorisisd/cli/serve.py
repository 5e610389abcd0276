"""`anagnorisisd serve`: the daemon in the foreground, as systemd runs it."""


from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from anagnorisisd.app.library import Library
from anagnorisisd.config import ConfigError, load_config
from anagnorisisd.http.guard import check_bind

log = logging.getLogger("anagnorisisd")
EXIT_USAGE = 2
HTTP_THREADS = 8
SWITCH_INTERVAL_S = 0.0005
"""How long a thread keeps the interpreter lock while others wait (Python's default: 5 ms).
Every LMDB call lets go of the lock, and taking it back waits for the next switch: beside two
busy threads, 20,000 reads took 4 to 7 s at 5 ms and under 0.8 s at 0.5 ms, for 7-34%
less of the busy threads' own Python (bench/bench_gil.py). A page makes hundreds of calls."""


def cmd_serve(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    problem = check_bind(config.server.host, config.server.token)
    if problem:
        raise ConfigError(problem)
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    library = Library(config, role="serve")
    return asyncio.run(serve(library))


async def serve(library: Library) -> int:
    from aiohttp import web

    from anagnorisisd.cli.systemd_notify import SystemdNotifier
    from anagnorisisd.http.app import create_app
    from anagnorisisd.http.server import install as install_json_errors

    notifier = SystemdNotifier()
    loop = asyncio.get_running_loop()
    # Requests run on threads of their own, a bounded pool no stage uses: a slow stage can
    # never take the threads the panel is answered on (the model has its own, http.common).
    loop.set_default_executor(ThreadPoolExecutor(HTTP_THREADS, thread_name_prefix="http"))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Live progress streams never end by themselves: give them a short grace at shutdown.
    runner = web.AppRunner(create_app(library), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    install_json_errors(runner)
    server = library.config.server
    # The port first: a taken one is the last thing said, before any work has started.
    try:
        await web.TCPSite(runner, server.host, server.port).start()
    except OSError as exc:
        await runner.cleanup()
        await loop.run_in_executor(None, library.stop)
        print(f"anagnorisisd: cannot listen on {server.host}:{server.port}: "
              f"{exc.strerror or exc}", file=sys.stderr)
        return 1
    # said as soon as it answers: a command run meanwhile asks the daemon, not the store
    library.instance.update(host=server.host, port=server.port)
    for root in library.roots:
        if not os.path.isdir(root):
            log.warning("library path %s does not exist (yet): it is watched for and indexed "
                        "when it appears", root)
    # on a thread of its own: the start's count and requeue take seconds at 100,000 photos,
    # and on one of the shared threads they held one of the eight requests are answered on
    starting = ThreadPoolExecutor(1, thread_name_prefix="library-start")
    await loop.run_in_executor(starting, library.start)
    starting.shutdown(wait=False)
    url = f"http://{server.host}:{server.port}/"
    log.info("serving %s (library: %s)", url, ", ".join(library.roots) or "not set yet")
    for problem in library.assembly.problems.items():
        log.warning("stage %s unavailable: %s", *problem)
    notifier.ready(f"serving {url}")
    keepalive = None
    if notifier.watchdog_interval_s:
        keepalive = asyncio.create_task(_keep_alive(notifier, notifier.watchdog_interval_s))
    await stop.wait()
    log.info("shutting down")
    notifier.stopping()
    if keepalive is not None:
        keepalive.cancel()
    await runner.cleanup()
    stopping = time.monotonic()
    await loop.run_in_executor(None, library.stop)
    left = [t.name for t in threading.enumerate()
            if t is not threading.main_thread() and t is not threading.current_thread()
            and not t.name.startswith(("asyncio", "http", "status-feed", "ThreadPoolExecutor"))]
    log.info("stopped in %.1f s; threads left: %s", time.monotonic() - stopping,
             ", ".join(left) or "none")
    return 0


async def _keep_alive(notifier: Any, interval_s: float) -> None:
    """Pinging from the event loop means a wedged loop stops the pings, as it should."""
    while True:
        notifier.watchdog()
        await asyncio.sleep(interval_s)
