"""What a workload runs against: the raw baseline, pgqrs's blocking API, pgqrs's async API.

`Target.run` is the same for all three: reset the tables, prepare (payloads built, or messages
filled server-side), checkpoint, time only the workload itself, then check delivery.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from collections.abc import Sequence
from typing import Any

import pgqrs
from benchmarks import library, parallel, raw
from benchmarks.environment import Environment, expect
from benchmarks.payloads import BATCH_SIZE, chunks, payloads

CONSUME = frozenset({"W3", "W3a", "W4", "W5"})


class Target:
    """One side of the comparison. Subclasses supply the table hooks and the timed loops."""

    name = ""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.runs = 0

    def run(self, workload: str, count: int, processes: int = 4) -> float:
        """Run one repetition of `workload` on `count` messages; return the timed seconds."""
        self.runs += 1
        self.reset(workload)
        what = f"{self.name} {workload}"
        if workload not in CONSUME:
            items = payloads(count)
            work: Sequence[Any] = items if workload == "W1" else chunks(items, BATCH_SIZE)
            self.environment.quiesce()
            elapsed = self.enqueue(workload, work)
            expect(f"{what}: messages stored", self.stored(), count)
            return elapsed
        self.fill(count)
        self.environment.quiesce()
        if workload == "W5":
            elapsed, seen = parallel.measure(self.job(), processes)
        else:
            elapsed, seen = self.consume(workload, None)
        expect(f"{what}: messages delivered", len(seen), count)
        expect(f"{what}: distinct messages delivered", len(set(seen)), count)
        expect(f"{what}: messages left", self.stored(), 0)
        if workload == "W3a":
            expect(f"{what}: messages archived", self.archived(), count)
        return elapsed

    def run_scale(self, pending: int, drain: int) -> float:
        """W7: the time of W3 over the first `drain` of `pending` messages (archive kept)."""
        self.runs += 1
        self.reset("W7")
        self.fill(pending)
        self.environment.quiesce()
        elapsed, seen = self.consume("W3", drain)
        expect(f"{self.name} W7 at {pending}: messages delivered", len(set(seen)), min(drain, pending))
        return elapsed

    def recover(self) -> None:
        """Make the target usable again after the server restarted."""

    def reset(self, workload: str) -> None:
        raise NotImplementedError

    def fill(self, count: int) -> None:
        raise NotImplementedError

    def stored(self) -> int:
        raise NotImplementedError

    def archived(self) -> int:
        raise NotImplementedError

    def enqueue(self, workload: str, work: Sequence[Any]) -> float:
        raise NotImplementedError

    def consume(self, workload: str, limit: int | None) -> tuple[float, list[int]]:
        raise NotImplementedError

    def job(self) -> parallel.Job:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class RawTarget(Target):
    """The hand-written psycopg queue."""

    name = "raw"

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.queue = raw.RawQueue(environment.dsn, environment.schema)

    def recover(self) -> None:
        self.queue.close()
        self.queue = raw.RawQueue(self.environment.dsn, self.environment.schema)

    def reset(self, workload: str) -> None:
        self.environment.reset_raw()

    def fill(self, count: int) -> None:
        self.environment.fill_raw(count)

    def stored(self) -> int:
        return self.environment.raw_messages()

    def archived(self) -> int:
        return self.environment.raw_archived()

    def enqueue(self, workload: str, work: Sequence[Any]) -> float:
        start = time.perf_counter()
        if workload == "W1":
            for item in work:
                self.queue.enqueue(item)
        else:
            for batch in work:
                self.queue.enqueue_batch(batch)
        return time.perf_counter() - start

    def consume(self, workload: str, limit: int | None) -> tuple[float, list[int]]:
        start = time.perf_counter()
        if workload == "W4":
            seen = raw.drain_each(self.queue)
        else:
            seen = raw.drain(self.queue, BATCH_SIZE, workload == "W3a", limit)
        return time.perf_counter() - start, seen

    def job(self) -> parallel.Job:
        return parallel.Job("raw", self.environment.dsn, self.environment.schema, "")

    def close(self) -> None:
        self.queue.close()


class _PgqrsTarget(Target):
    """Shared table hooks of the two pgqrs targets: a fresh queue per run."""

    queue: pgqrs.QueueInfo

    def __init__(self, environment: Environment, api: str, package: str = "pgqrs") -> None:
        super().__init__(environment)
        # The unmodified library is "sync"/"async"; a variant (--compare) is "sync:NAME".
        self.name = api if package == "pgqrs" else f"{api}:{package}"
        self.api = api
        self.package = package

    def reset(self, workload: str) -> None:
        self.environment.reset_pgqrs(keep_archive=workload == "W7")
        self.queue = self.create_queue(f"{workload.lower()}-{self.name}-{self.runs}")

    def create_queue(self, name: str) -> pgqrs.QueueInfo:
        raise NotImplementedError

    def fill(self, count: int) -> None:
        self.environment.fill_pgqrs(self.queue.id, count)

    def stored(self) -> int:
        return self.environment.pgqrs_messages(self.queue.id)

    def archived(self) -> int:
        return self.environment.pgqrs_archived(self.queue.id)

    def job(self) -> parallel.Job:
        return parallel.Job(
            self.api, self.environment.dsn, self.environment.schema, self.queue.queue_name, self.package
        )


class SyncTarget(_PgqrsTarget):
    """pgqrs through its blocking API (`pgqrs.sync`)."""

    def __init__(self, environment: Environment, package: str = "pgqrs") -> None:
        super().__init__(environment, "sync", package)
        self.module: Any = importlib.import_module(f"{package}.sync")
        self.admin = self.module.PgqrsAdmin.connect(environment.config)

    def create_queue(self, name: str) -> pgqrs.QueueInfo:
        return self.admin.create_queue(name)  # type: ignore[no-any-return]

    def recover(self) -> None:
        self.admin.pool.check()

    def enqueue(self, workload: str, work: Sequence[Any]) -> float:
        producer = self.module.Producer(self.admin.pool, self.queue, self.environment.config)
        start = time.perf_counter()
        if workload == "W1":
            library.enqueue_each(producer, work)
        else:
            library.enqueue_batches(producer, work)
        return time.perf_counter() - start

    def consume(self, workload: str, limit: int | None) -> tuple[float, list[int]]:
        consumer = self.module.Consumer(self.admin.pool, self.queue, self.environment.config)
        consumer.register()
        start = time.perf_counter()
        if workload == "W4":
            seen = library.drain_each(consumer)
        else:
            seen = library.drain(consumer, BATCH_SIZE, workload == "W3a", limit)
        elapsed = time.perf_counter() - start
        consumer.close()
        return elapsed, seen

    def close(self) -> None:
        self.admin.close()


class AsyncTarget(_PgqrsTarget):
    """pgqrs through its async API, on one event loop kept for the whole run."""

    def __init__(self, environment: Environment, package: str = "pgqrs") -> None:
        super().__init__(environment, "async", package)
        self.module: Any = importlib.import_module(package)
        self.loop = asyncio.new_event_loop()
        self.admin = self.loop.run_until_complete(self.module.PgqrsAdmin.connect(environment.config))

    def create_queue(self, name: str) -> pgqrs.QueueInfo:
        return self.loop.run_until_complete(self.admin.create_queue(name))  # type: ignore[no-any-return]

    def recover(self) -> None:
        self.loop.run_until_complete(self.admin.pool.check())

    def enqueue(self, workload: str, work: Sequence[Any]) -> float:
        return self.loop.run_until_complete(self._enqueue(workload, work))

    async def _enqueue(self, workload: str, work: Sequence[Any]) -> float:
        producer = self.module.Producer(self.admin.pool, self.queue, self.environment.config)
        start = time.perf_counter()
        if workload == "W1":
            await library.enqueue_each_async(producer, work)
        else:
            await library.enqueue_batches_async(producer, work)
        return time.perf_counter() - start

    def consume(self, workload: str, limit: int | None) -> tuple[float, list[int]]:
        return self.loop.run_until_complete(self._consume(workload, limit))

    async def _consume(self, workload: str, limit: int | None) -> tuple[float, list[int]]:
        consumer = self.module.Consumer(self.admin.pool, self.queue, self.environment.config)
        await consumer.register()
        start = time.perf_counter()
        if workload == "W4":
            seen = await library.drain_each_async(consumer)
        else:
            seen = await library.drain_async(consumer, BATCH_SIZE, workload == "W3a", limit)
        elapsed = time.perf_counter() - start
        await consumer.close()
        return elapsed, seen

    def close(self) -> None:
        self.loop.run_until_complete(self.admin.close())
        self.loop.close()
