"""Run an app for `pgqrs worker run`: on a thread of its own, with SIGTERM and SIGINT handled.

The first signal stops the app gracefully (`app.stop()`): nothing more is fetched and running
handlers may finish within the shutdown timeout. A second one stops it at once
(`app.stop(immediate=True)`): what still runs is stopped or given up (see `App.stop`).

The app runs on a thread and the main thread only waits, the same way for async and blocking
apps: Python runs signal handlers on the main thread between two bytecodes, wherever it is, so
the handler only counts and the waiting loop calls `stop()`, from plain code.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pgqrs
from pgqrs.cli import app_loading, failures

logger = logging.getLogger("pgqrs.cli")
SIGNALS = (signal.SIGINT, signal.SIGTERM)
_TICK_SECONDS = 0.1  # how soon a signal is acted on


@dataclasses.dataclass(frozen=True)
class Finished:
    """How a run ended: its statistics, and how many stop signals it acted on (0, 1, 2+)."""

    stats: pgqrs.RunStats
    signals: int

    @property
    def stopped_at_once(self) -> bool:
        """Return True when a second signal stopped the app at once."""
        return self.signals >= 2

    @property
    def stopped_handlers(self) -> bool:
        """Return True when handlers still ran at the end (stopped, or given up)."""
        return self.stopped_at_once or self.stats.released > 0


class _Counter:
    """A signal handler that only counts (see the module's docstring for why)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.count += 1


def work(
    app: app_loading.AnyApp,
    run: Callable[[], pgqrs.RunStats],
    on_signal: Callable[[int], None],
) -> Finished:
    """Call `run` on a thread until it returns, stopping `app` on SIGTERM or SIGINT.

    `on_signal(n)` is told of the n-th signal, once the app was asked to stop. The run's
    error, if any, is raised here.
    """
    outcome: dict[str, Any] = {}
    finished = threading.Event()

    def target() -> None:
        try:
            outcome["stats"] = run()
        except BaseException as error:
            outcome["error"] = error
        finally:
            finished.set()

    counter = _Counter()
    previous = {number: signal.signal(number, counter) for number in SIGNALS}
    try:
        threading.Thread(target=target, name="pgqrs app", daemon=True).start()
        seen = 0
        while not finished.wait(_TICK_SECONDS):
            while seen < counter.count:
                seen += 1
                app.stop(immediate=seen >= 2)
                on_signal(seen)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if "error" in outcome:
        raise outcome["error"]
    return Finished(outcome["stats"], seen)  # a signal after the run ended changes nothing


def run(app: app_loading.AnyApp, **arguments: Any) -> pgqrs.RunStats:
    """Run `app` with `arguments` (those of App.run) until it returns; return its statistics."""
    if isinstance(app, pgqrs.App):
        return _run_async(app, **arguments)
    return app.run(**arguments)


def _run_async(app: pgqrs.App, **arguments: Any) -> pgqrs.RunStats:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(app.run(**arguments))
    finally:
        # Not asyncio.run: it waits for the default executor's threads, where a handler stopped
        # at shutdown may have left a blocking call running (asyncio.to_thread).
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


@contextlib.contextmanager
def metrics_served(port: int | None, host: str, note: Callable[[str], None]) -> Iterator[None]:
    """Serve this process's handler metrics at http://host:port/metrics while the block runs.

    Nothing when `port` is None; port 0 takes a free one, and `note` is told where they are.

    Raises:
        UsageFailure: prometheus-client is not installed.
        CommandFailed: The port cannot be listened on.
    """
    if port is None:
        yield
        return
    try:
        from pgqrs import metrics
    except ImportError as error:
        if error.name != "prometheus_client":
            raise
        raise failures.UsageFailure(
            "--metrics-port needs prometheus-client: pip install 'pgqrs-py[metrics]'"
        ) from None
    try:
        served = metrics.serve(port, host)
    except OSError as error:
        raise failures.CommandFailed(
            f"cannot serve metrics on {host}:{port}: {error.strerror or error}"
        ) from None
    note(f"pgqrs: handler metrics at http://{host}:{served.port}/metrics")
    try:
        yield
    finally:
        served.close()


def exit_now(code: int) -> None:
    """Exit with `code` once the output is flushed, without waiting for any thread.

    For a run stopped while handlers ran: a blocking call one made can go on in a thread (an
    async handler's `asyncio.to_thread`, cancelled but not stopped), and the interpreter would
    wait for it at exit (concurrent.futures joins its threads, daemon or not). atexit handlers
    do not run.
    """
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
