"""Worker-runtime processes for the fault suite: a `pgqrs.App` whose handler records every invocation.

    PGQRS_DSN=... PGQRS_SCHEMA=... PGQRS_FAULT_SPEC='<json>' python -m tests.reliability.app_worker

The process does what `pgqrs worker run` does: it loads its config from the ``PGQRS_*``
environment (`Config.load()`), runs the app until stopped, stops gracefully on the first
SIGTERM or SIGINT and at once on the second, and exits 0 once `run` returned. Its one handler
(queue ``spec["queue"]``, async `pgqrs.App` or blocking `pgqrs.sync.App` per ``spec["runtime"]``)
writes to the checker's events file when it starts (with the lease it runs under) and when it
ends (returned, raised, or cancelled by the shutdown), then does what the spec says for the
message's key: sleep a while (``work_seconds``, ``slow``) or kill its own process (``poison``).

`command` and `environment` build the process; they are the only things to change when the
scenarios switch to `pgqrs worker run` (the handler module is then given to it as
``tests.reliability.app_worker:app``, which this module builds from the environment on access,
with the shutdown timeout on the command line). What `main` records besides the handler's
events is not needed by the checks: the test records a process's end itself
(`Workers.app_exited`); `run`'s statistics are figures only. One wait needs it: scenario 16
sends its second SIGTERM once the first was taken (the "signal" note), which with the command
becomes a sign of its own (a log line) or a pause.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import random
import signal
import sys
import threading
import time
from typing import Any

import pgqrs
from pgqrs import sync
from tests.reliability import checker

SPEC_VARIABLE = "PGQRS_FAULT_SPEC"
# Config settings given through the environment, as `pgqrs worker run` would read them.
CONFIG_VARIABLES = {
    "poll_interval": "PGQRS_POLL_INTERVAL",
    "heartbeat_interval": "PGQRS_HEARTBEAT_INTERVAL",
    "listen_dsn": "PGQRS_LISTEN_DSN",
    "pooler": "PGQRS_POOLER",
    "max_connections": "PGQRS_MAX_CONNECTIONS",
    "connection_timeout_seconds": "PGQRS_CONNECTION_TIMEOUT",
    "default_lock_time_seconds": "PGQRS_DEFAULT_LOCK_TIME",
}


def command(spec: dict[str, Any]) -> list[str]:
    """Return the command line of a runtime worker process (see the module docstring)."""
    return [sys.executable, "-m", "tests.reliability.app_worker"]


def environment(spec: dict[str, Any], dsn: str, schema: str, config: dict[str, Any]) -> dict[str, str]:
    """Return the environment variables of a worker process: its config and its spec."""
    variables = {"PGQRS_DSN": dsn, "PGQRS_SCHEMA": schema, SPEC_VARIABLE: json.dumps(spec)}
    for field, value in config.items():
        variables[CONFIG_VARIABLES[field]] = str(value)
    return variables


class Behaviour:
    """What the handler does with a message, and what it records about it."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.name = spec["name"]
        self.recorder = checker.Recorder(spec["events"], self.name)
        self.random = random.Random(spec.get("seed", 0))
        self._random_lock = threading.Lock()

    def begin(self, message: Any) -> float:
        """Record the start; return the seconds to 'work' (or kill this process: poison)."""
        self.recorder.handler_started(self.name, message)
        key = checker.payload_key(message.payload)
        if key is not None and key == self.spec.get("poison"):
            os.kill(os.getpid(), signal.SIGKILL)
        slow = self.spec.get("slow", {})
        if key in slow:
            return float(slow[key])
        low, high = self.spec.get("work_seconds", [0.0, 0.0])
        with self._random_lock:
            return self.random.uniform(low, high)

    def end(self, message: Any, how: str) -> None:
        self.recorder.handler_finished(self.name, message, how)
        if how == "cancelled":
            # The async runtime gives a cancelled handler's message back untried.
            self.recorder.given_back(self.name, message)


def build_app(spec: dict[str, Any]) -> pgqrs.App | sync.App:
    """Return the app of one worker process: one handler on spec['queue']."""
    behaviour = Behaviour(spec)
    options: dict[str, Any] = {"concurrency": spec.get("concurrency", 1), "lock_time": spec.get("lock_time")}
    if spec.get("max_attempts") is not None:
        options["retry"] = pgqrs.RetryPolicy(max_attempts=spec["max_attempts"], base_delay=0.1, max_delay=0.1)
    if spec.get("runtime", "async") == "sync":
        blocking = sync.App()

        @blocking.handler(spec["queue"], **options)
        def work(message: sync.QueueMessage) -> None:
            seconds = behaviour.begin(message)
            try:
                time.sleep(seconds)
            except BaseException:
                behaviour.end(message, "raised")
                raise
            behaviour.end(message, "returned")

        return blocking

    app = pgqrs.App()

    @app.handler(spec["queue"], **options)
    async def work_async(message: pgqrs.QueueMessage) -> None:
        seconds = behaviour.begin(message)
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            behaviour.end(message, "cancelled")
            raise
        except BaseException:
            behaviour.end(message, "raised")
            raise
        behaviour.end(message, "returned")

    return app


@functools.cache
def _app_from_environment() -> pgqrs.App | sync.App:
    return build_app(json.loads(os.environ[SPEC_VARIABLE]))


def __getattr__(name: str) -> Any:
    """`app`: the app described by PGQRS_FAULT_SPEC (what `pgqrs worker run` would import)."""
    if name == "app":
        return _app_from_environment()
    raise AttributeError(name)


class Stopper:
    """SIGTERM/SIGINT: the first stops gracefully, the next ones at once (as a CLI does)."""

    def __init__(self, app: pgqrs.App | sync.App, recorder: checker.Recorder) -> None:
        self.app = app
        self.recorder = recorder
        self.signals = 0

    def __call__(self, *_: Any) -> None:
        self.signals += 1
        immediate = self.signals > 1
        self.recorder.note(signal=self.signals, immediate=immediate)
        # Not in the signal handler itself: a blocking runtime's stop takes a lock the
        # interrupted thread may hold. A thread of its own takes it safely.
        threading.Thread(target=self.app.stop, kwargs={"immediate": immediate}, daemon=True).start()


async def _run_async(
    app: pgqrs.App, config: pgqrs.Config, shutdown_timeout: float, recorder: checker.Recorder
) -> pgqrs.RunStats:
    loop = asyncio.get_running_loop()
    stopper = Stopper(app, recorder)
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopper)
    return await app.run(config, shutdown_timeout=shutdown_timeout)


def main() -> None:
    spec = json.loads(os.environ[SPEC_VARIABLE])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = _app_from_environment()
    config = pgqrs.Config.load()
    shutdown_timeout = float(spec.get("shutdown_timeout", 30.0))
    recorder = checker.Recorder(spec["events"], spec["name"])
    if isinstance(app, sync.App):
        stopper = Stopper(app, recorder)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, stopper)
        stats = app.run(config, shutdown_timeout=shutdown_timeout)
    else:
        stats = asyncio.run(_run_async(app, config, shutdown_timeout, recorder))
    recorder.note(stats=stats.as_dict())
    recorder.exited(spec["name"])
    logging.info("stopped: %s", json.dumps(stats.as_dict()))


if __name__ == "__main__":
    main()
