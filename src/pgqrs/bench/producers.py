"""W1p: many producers at once (``pgqrs bench --producers 64``), against W1's raw floor.

N asyncio tasks sharing one async Producer, and N threads sharing one sync Producer, each call
an `enqueue` per message (W1's payloads, dealt round-robin) until all are in; the floor is raw
W1: one connection, one INSERT per message. Whole runs alternate, in a rotating order
(raw, async, sync, then each --compare copy), so one repetition's ratios share the machine's
mood; every run starts from a fresh queue and checks that each message arrived.
"""

from __future__ import annotations

import asyncio
import functools
import statistics
import threading
import time
from collections.abc import Sequence
from typing import Any

from pgqrs.bench import raw, timing
from pgqrs.bench.options import Options
from pgqrs.bench.report import Series, ratios, show
from pgqrs.bench.targets import AsyncTarget, RawTarget, SyncTarget, Target

WORKLOAD = "W1"


def measure(targets: Sequence[Target], options: Options) -> dict[str, Series]:
    """Time W1 on raw (one connection) and W1p on every pgqrs target, `repeat` times."""
    taking_part = [target for target in targets if target.name == "raw" or _concurrent(target)]
    count = options.messages[WORKLOAD]
    results = {target.name: Series("W1p", target.name, count) for target in taking_part}
    for turn in range(options.repeat):
        for target in timing.rotated(taking_part, turn):
            run = functools.partial(_run, target, count, options.producers)
            seconds = timing.resilient(taking_part, run)
            results[target.name].seconds.append(seconds)
            timing.progress(f"W1p #{turn + 1} {target.name:>16}: {count / seconds:>10,.0f} msg/s")
    return results


def _concurrent(target: Target) -> bool:
    return isinstance(target, SyncTarget | AsyncTarget)


def _run(target: Target, count: int, producers: int) -> float:
    """One timed run: prepare (untimed), enqueue everything, verify (untimed)."""
    target.prepare(WORKLOAD, count)
    if isinstance(target, RawTarget):
        started = time.perf_counter()
        for _ in raw.enqueue_each(target.queue, target.work):
            pass
        elapsed = time.perf_counter() - started
    elif isinstance(target, AsyncTarget):
        elapsed = _tasks(target, _shares(target.work, producers))
    else:
        assert isinstance(target, SyncTarget)
        elapsed = _threads(target, _shares(target.work, producers))
    target.verify(WORKLOAD, count)
    return elapsed


def _shares(items: Sequence[Any], producers: int) -> list[Sequence[Any]]:
    """Deal the payloads round-robin to `producers` producers."""
    return [items[index::producers] for index in range(producers)]


def _tasks(target: AsyncTarget, shares: list[Sequence[Any]]) -> float:
    producer = target.module.Producer(target.admin.pool, target.queue, target.environment.config)

    async def produce(items: Sequence[Any]) -> None:
        for item in items:
            await producer.enqueue(item)

    async def run_all() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(produce(share) for share in shares))
        return time.perf_counter() - started

    return target.loop.run_until_complete(run_all())


def _threads(target: SyncTarget, shares: list[Sequence[Any]]) -> float:
    producer = target.module.Producer(target.admin.pool, target.queue, target.environment.config)
    ready = threading.Barrier(len(shares) + 1)
    failures: list[BaseException] = []

    def produce(items: Sequence[Any]) -> None:
        ready.wait()
        try:
            for item in items:
                producer.enqueue(item)
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    threads = [threading.Thread(target=produce, args=(share,), daemon=True) for share in shares]
    for thread in threads:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise failures[0]
    return elapsed


def show_results(results: dict[str, Series], producers: int) -> None:
    """Print each target's rate and its ratio to raw W1 (median of the per-repetition ratios)."""
    if "raw" not in results or len({len(series.seconds) for series in results.values()}) != 1:
        return  # a run cut short: nothing to compare
    baseline = results["raw"]
    rows = []
    for name, series in results.items():
        rates = series.rates
        against = ratios(series, baseline)
        rows.append(
            [
                "raw W1, 1 connection" if name == "raw" else f"{name}: {producers} producers",
                f"{series.median:,.0f} ({min(rates):,.0f}-{max(rates):,.0f})",
                f"{statistics.median(against):.2f} ({min(against):.2f}-{max(against):.2f})",
            ]
        )
    show(
        f"W1p: {producers} concurrent producers on one Producer vs raw W1, medians of "
        f"{len(baseline.seconds)} (run-interleaved)",
        ["what", "msg/s (min-max)", "x raw W1 (min-max)"],
        rows,
    )
