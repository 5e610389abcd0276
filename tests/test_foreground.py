"""The library's passes step aside while a request's work runs, never for long, never for
the request's own work; the HTTP layer's thread hops count as a request's work."""

from __future__ import annotations

import asyncio
import threading

from anagnorisisd.foreground import FOREGROUND, Foreground, aside_every
from anagnorisisd.http.common import run_blocking


def test_a_pass_waits_for_a_request_and_goes_on_when_it_is_answered() -> None:
    foreground = Foreground()
    foreground.step_aside(longest=30)  # nobody asking: no wait at all
    answer = threading.Event()
    started = threading.Event()

    def request_work() -> str:
        started.set()
        answer.wait(30)
        return "page"

    request = threading.Thread(target=foreground.run, args=(request_work,))
    request.start()
    assert started.wait(10)
    stepping = threading.Thread(target=foreground.step_aside, kwargs={"longest": 30})
    stepping.start()
    stepping.join(0.3)
    assert stepping.is_alive()  # waits while the request's work runs
    answer.set()
    stepping.join(10)  # well before its 30 s: it went on when the request was answered
    assert not stepping.is_alive()
    request.join(10)
    assert foreground.busy == 0


def test_a_pass_under_a_request_that_never_ends_still_moves_on() -> None:
    foreground = Foreground()
    answer = threading.Event()
    started = threading.Event()

    def request_work() -> None:
        started.set()
        answer.wait(30)

    request = threading.Thread(target=foreground.run, args=(request_work,))
    request.start()
    try:
        assert started.wait(10)
        stepping = threading.Thread(target=foreground.step_aside, kwargs={"longest": 0.05})
        stepping.start()
        stepping.join(10)
        assert not stepping.is_alive()
    finally:
        answer.set()
        request.join(10)


def test_a_requests_own_pass_never_waits_for_itself() -> None:
    foreground = Foreground()
    assert foreground.run(lambda: foreground.step_aside(longest=30) or foreground.busy) == 1
    assert foreground.run(foreground.serving_here) and not foreground.serving_here()


def test_the_http_thread_hop_counts_as_a_request() -> None:
    seen = asyncio.run(run_blocking(lambda: FOREGROUND.busy))
    assert seen >= 1 and FOREGROUND.busy == 0


def test_aside_every_passes_every_item_through_in_order() -> None:
    assert list(aside_every(range(2500), every=1000)) == list(range(2500))
