"""The worker runtime's workloads (``pgqrs bench --runtime``): W8 throughput and W6 latency.

W8: messages filled server-side, then drained by no-op handlers at concurrency 1, 16 and 64
(and W8s: handlers that sleep 10 ms, at concurrency 64), timed from `run` to its return
(`until_empty`), on pgqrs.App (async), pgqrs.sync.App, a raw loop doing the same work (lease a
batch of `concurrency`, run the no-op handlers, delete them: W3's statements) and, with
``--peers pgqueuer``, pgqueuer's QueueManager in drain mode. Every run checks delivery.

W6: an idle runtime, then single enqueues 20-60 ms apart; the latency of each is from the
enqueue call to its handler's start (an upper bound of commit-to-start), p50 and p99, with
wake-ups (LISTEN/NOTIFY) and with polling only (`pooler="transaction"`: every `poll_interval`);
the raw floor is a LISTEN connection that leases on each notification.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

import pgqrs
from pgqrs import _notify
from pgqrs import sync as pgqrs_sync
from pgqrs.bench import raw, timing
from pgqrs.bench.environment import Environment, expect
from pgqrs.bench.payloads import payload
from pgqrs.bench.report import Series

CONCURRENCY = (1, 16, 64)
SLEEPY = ("W8s", 64, 0.01)  # workload, concurrency, seconds each handler sleeps
QUEUE = "w8"


def _app_run(api: str, config: pgqrs.Config, concurrency: int, sleep: float) -> pgqrs.RunStats:
    """Drain the queue with a no-op (or sleeping) handler; return the run's statistics."""
    if api == "async":
        app = pgqrs.App()

        @app.handler(QUEUE, concurrency=concurrency, on_success="delete")
        async def handle(message: pgqrs.QueueMessage) -> None:
            if sleep:
                await asyncio.sleep(sleep)

        return asyncio.run(app.run(config, until_empty=True))
    sync_app = pgqrs_sync.App()

    @sync_app.handler(QUEUE, concurrency=concurrency, on_success="delete")
    def handle_sync(message: pgqrs.QueueMessage) -> None:
        if sleep:
            time.sleep(sleep)

    return sync_app.run(config, until_empty=True)


class _Runner:
    """One W8 target: fills its own schema, drains it, times the drain."""

    def __init__(self, environment: Environment, name: str) -> None:
        self.environment = environment
        self.name = name

    def run(self, count: int, concurrency: int, sleep: float) -> float:
        raise NotImplementedError

    def close(self) -> None:
        self.environment.close()


class _PgqrsRunner(_Runner):
    def run(self, count: int, concurrency: int, sleep: float) -> float:
        environment = self.environment
        environment.reset_pgqrs()
        queue_id = environment.ensure_queue(QUEUE)
        environment.fill_pgqrs(queue_id, count)
        environment.quiesce()
        config = environment.config.replace(poll_interval=0.05)
        start = time.perf_counter()
        stats = _app_run(self.name, config, concurrency, sleep)
        seconds = time.perf_counter() - start
        expect(f"{self.name} W8: handler calls", stats.handled, count)
        expect(f"{self.name} W8: settled", stats.succeeded, count)
        expect(f"{self.name} W8: messages left", environment.pgqrs_messages(queue_id), 0)
        return seconds


class _RawRunner(_Runner):
    def run(self, count: int, concurrency: int, sleep: float) -> float:
        environment = self.environment
        environment.reset_raw()
        environment.fill_raw(count)
        environment.quiesce()
        seen: list[int] = []
        queue = raw.RawQueue(environment.dsn, environment.schema)
        start = time.perf_counter()
        for _ in raw.drain(queue, concurrency, False, None, seen, pause=sleep):
            pass
        seconds = time.perf_counter() - start
        queue.close()
        expect("raw W8: distinct messages", len(set(seen)), count)
        expect("raw W8: messages left", environment.raw_messages(), 0)
        return seconds


def measure_throughput(dsn: str, options: Any, peer_targets: list[Any]) -> dict[tuple[str, str], Series]:
    """W8 and W8s on every target, `options.repeat` times, run by run in rotating order."""
    runners: list[_Runner] = [_RawRunner(Environment.create(dsn), "raw")]
    runners += [_PgqrsRunner(Environment.create(dsn), api) for api in options.apis]
    results: dict[tuple[str, str], Series] = {}
    plans = [("W8", concurrency, 0.0) for concurrency in CONCURRENCY] + [SLEEPY]
    count = options.runtime_messages
    try:
        for workload, concurrency, sleep in plans:
            label = f"{workload} c={concurrency}"
            targets = [*runners, *peer_targets]
            for target in targets:
                results[(label, target.name)] = Series(workload, target.name, count)
            for turn in range(options.repeat):
                for target in timing.rotated(targets, turn):
                    seconds = _run_one(target, count, concurrency, sleep)
                    results[(label, target.name)].seconds.append(seconds)
                    timing.progress(f"{label} #{turn + 1} {target.name:>10}: {count / seconds:>10,.0f} msg/s")
    finally:
        for runner in runners:
            runner.close()
    return results


def _run_one(target: Any, count: int, concurrency: int, sleep: float) -> float:
    if isinstance(target, _Runner):
        return target.run(count, concurrency, sleep)
    return float(target.run_runtime(count, concurrency, sleep))


def measure_latency(dsn: str, options: Any) -> dict[str, dict[str, float]]:
    """W6: enqueue-to-handler-start latency (ms) with wake-ups and with polling only."""
    environment = Environment.create(dsn)
    figures: dict[str, dict[str, float]] = {}
    try:
        count = options.latency_messages
        figures["raw LISTEN"] = _summary(_raw_latency(environment, count))
        for api in options.apis:
            for mode in ("notify", "poll"):
                settings = environment.config.replace(poll_interval=1.0)
                if mode == "poll":
                    settings = settings.replace(pooler="transaction")
                samples = _runtime_latency(environment, settings, api, count)
                figures[f"{api} {mode}"] = _summary(samples)
                timing.progress(f"W6 {api} {mode}: {figures[f'{api} {mode}']}")
    finally:
        environment.close()
    return figures


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "samples": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def _pace(index: int) -> float:
    """Return the pause before enqueue `index`: 20-60 ms, never in step with a poll timer."""
    return 0.02 + (index * 7919 % 41) / 1000


def _runtime_latency(environment: Environment, config: pgqrs.Config, api: str, count: int) -> list[float]:
    environment.reset_pgqrs()
    started: dict[int, float] = {}
    queue = f"w6-{api}"
    environment.ensure_queue(queue)
    stop, run = _latency_app(api, queue, config, started)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        return _send_and_wait(environment, queue, count, started)
    finally:
        stop()
        thread.join(60)


def _latency_app(
    api: str, queue: str, config: pgqrs.Config, started: dict[int, float]
) -> tuple[Callable[[], None], Callable[[], Any]]:
    """Return (stop, run) for an app whose handler notes when each message started."""
    if api == "async":
        app = pgqrs.App()

        @app.handler(queue, concurrency=4, on_success="delete")
        async def handle(message: pgqrs.QueueMessage) -> None:
            started.setdefault(message.payload["id"], time.perf_counter())

        return app.stop, lambda: asyncio.run(app.run(config))
    sync_app = pgqrs_sync.App()

    @sync_app.handler(queue, concurrency=4, on_success="delete")
    def handle_sync(message: pgqrs.QueueMessage) -> None:
        started.setdefault(message.payload["id"], time.perf_counter())

    return sync_app.stop, lambda: sync_app.run(config)


def _send_and_wait(
    environment: Environment, queue: str, count: int, started: dict[int, float]
) -> list[float]:
    sent: dict[int, float] = {}
    with pgqrs_sync.PgqrsAdmin.connect(environment.config) as admin:
        producer = pgqrs_sync.Producer(admin.pool, admin.get_queue(queue), environment.config)
        time.sleep(1.0)  # the runtime is up and idle
        for index in range(1, count + 1):
            time.sleep(_pace(index))
            sent[index] = time.perf_counter()
            producer.enqueue(payload(index))
        _wait(lambda: len(started) >= count, 30)
    return [started[index] - sent[index] for index in sent]


def _wait(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("W6: a handler never started")
        time.sleep(0.005)


def _raw_latency(environment: Environment, count: int) -> list[float]:
    """The floor: raw INSERT + pg_notify, a raw LISTEN connection that leases on notification."""
    environment.reset_raw()
    started: dict[int, float] = {}
    stop = threading.Event()
    listening = threading.Event()
    thread = threading.Thread(
        target=raw.listen_and_lease, args=(environment, started, stop, listening), daemon=True
    )
    thread.start()
    listening.wait(30)
    sent: dict[int, float] = {}
    notify = environment.compose(raw.ENQUEUE_NOTIFY)
    with psycopg.connect(environment.dsn, autocommit=True) as connection:
        for index in range(1, count + 1):
            time.sleep(_pace(index))
            sent[index] = time.perf_counter()
            connection.execute(notify, (Jsonb(payload(index)), _notify.CHANNEL)).fetchall()
    _wait(lambda: len(started) >= count, 30)
    stop.set()
    thread.join(30)
    return [started[index] - sent[index] for index in sent]
