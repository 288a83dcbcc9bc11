"""What a workload runs against: the raw baseline, pgqrs's blocking API, pgqrs's async API.

Every target has a schema of its own (so tables do not share caches or bloat) and runs a workload
in three parts: `prepare` (reset, fill server-side or build the payloads; untimed), `steps` (the
timed work, a slice per `next()`) and `verify` (delivery checks; untimed).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from pgqrs.bench import library, parallel, raw, raw_async
from pgqrs.bench.environment import Environment, expect
from pgqrs.bench.payloads import BATCH_SIZE, chunks, payloads

CONSUME = frozenset({"W3", "W3a", "W4", "W5", "W7", "W8"})


class Target:
    """One side of the comparison; subclasses supply the table hooks and the step generators."""

    name = ""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.runs = 0
        self.seen: list[int] = []
        self.work: Sequence[Any] = ()

    def prepare(self, workload: str, count: int) -> None:
        """Reset the tables and get `count` messages ready (filled, or payloads built)."""
        self.runs += 1
        self.seen = []
        self.reset(workload)
        if workload in CONSUME:
            self.fill(count)
            self.work = ()
        else:
            items = payloads(count)
            self.work = items if workload == "W1" else chunks(items, BATCH_SIZE)
        self.environment.quiesce()

    def steps(self, workload: str, limit: int | None = None) -> Iterator[None]:
        """Return the timed part of the workload as a step generator."""
        raise NotImplementedError

    def takes(self, workload: str) -> bool:
        """Return whether this target has `workload` (peers lack some)."""
        return True

    def verify(self, workload: str, count: int, limit: int | None = None) -> None:
        """Check that every message was stored, or delivered exactly once and acknowledged."""
        what = f"{self.name} {workload}"
        if workload not in CONSUME:
            expect(f"{what}: messages stored", self.stored(), count)
            return
        delivered = count if limit is None else min(count, limit)
        expect(f"{what}: messages delivered", len(self.seen), delivered)
        expect(f"{what}: distinct messages delivered", len(set(self.seen)), delivered)
        expect(f"{what}: messages left", self.stored(), count - delivered)
        if workload == "W3a":
            expect(f"{what}: messages archived", self.archived(), count)

    def run_parallel(self, count: int, processes: int) -> float:
        """W5: fill, drain with `processes` processes, check; return the timed seconds."""
        self.prepare("W5", count)
        elapsed, self.seen = parallel.measure(self.job(), processes)
        self.verify("W5", count)
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

    def job(self) -> parallel.Job:
        raise NotImplementedError

    def close(self) -> None:
        self.environment.close()


class _RawTables(Target):
    """Table hooks shared by the raw baselines (their tables are the raw_* ones in the schema)."""

    def takes(self, workload: str) -> bool:
        # The bounds are about per-call costs; W7 compares pgqrs with itself at sizes.
        return self.name == "raw" or workload != "W7"

    def reset(self, workload: str) -> None:
        self.environment.reset_raw()

    def fill(self, count: int) -> None:
        self.environment.fill_raw(count)

    def stored(self) -> int:
        return self.environment.raw_messages()

    def archived(self) -> int:
        return self.environment.raw_archived()

    def job(self) -> parallel.Job:
        return parallel.Job(self.name, self.environment.dsn, self.environment.schema, "")


class RawTarget(_RawTables):
    """The hand-written psycopg queue; with `required_schema`, on issue 2's table shape (raw+schema)."""

    def __init__(self, environment: Environment, required_schema: bool = False) -> None:
        super().__init__(environment)
        self.required_schema = required_schema
        self.name = "raw+schema" if required_schema else "raw"
        if required_schema:
            environment.execute(raw.REQUIRED_SCHEMA)
        self.queue = self.connect()

    def connect(self) -> raw.RawQueue:
        return raw.RawQueue(self.environment.dsn, self.environment.schema, self.required_schema)

    def steps(self, workload: str, limit: int | None = None) -> Iterator[None]:
        if workload == "W1":
            return raw.enqueue_each(self.queue, self.work)
        if workload == "W2":
            return raw.enqueue_batches(self.queue, self.work)
        if workload == "W4":
            return raw.drain_each(self.queue, self.seen)
        return raw.drain(self.queue, BATCH_SIZE, workload == "W3a", limit, self.seen)

    def recover(self) -> None:
        self.queue.close()
        self.queue = self.connect()

    def close(self) -> None:
        self.queue.close()
        super().close()


class AsyncRawTarget(_RawTables):
    """The raw+schema floor's SQL through psycopg's async connection, on one event loop."""

    name = "raw-async+schema"

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.execute(raw.REQUIRED_SCHEMA)
        self.loop = asyncio.new_event_loop()
        self.queue = self.loop.run_until_complete(self.connect())

    async def connect(self) -> raw_async.AsyncRawQueue:
        environment = self.environment
        return await raw_async.AsyncRawQueue.connect(environment.dsn, environment.schema, True)

    def steps(self, workload: str, limit: int | None = None) -> Iterator[None]:
        if workload == "W1":
            return drive(self.loop, raw_async.enqueue_each(self.queue, self.work))
        if workload == "W2":
            return drive(self.loop, raw_async.enqueue_batches(self.queue, self.work))
        if workload == "W4":
            return drive(self.loop, raw_async.drain_each(self.queue, self.seen))
        return drive(self.loop, raw_async.drain(self.queue, BATCH_SIZE, workload == "W3a", limit, self.seen))

    def recover(self) -> None:
        self.loop.run_until_complete(self.queue.close())
        self.queue = self.loop.run_until_complete(self.connect())

    def close(self) -> None:
        self.loop.run_until_complete(self.queue.close())
        self.loop.close()
        super().close()


def drive(loop: asyncio.AbstractEventLoop, steps: AsyncIterator[None]) -> Iterator[None]:
    """Run an async step generator one step per `next()` on `loop`.

    The loop is kept for the whole run, so the target's pooled connections stay valid.
    """
    while True:
        try:
            loop.run_until_complete(steps.__anext__())
        except StopAsyncIteration:
            return
        yield


class _PgqrsTarget(Target):
    """Shared hooks of the two pgqrs targets: a fresh queue per run, a producer and a consumer."""

    queue: Any
    admin: Any
    module: Any

    def __init__(self, environment: Environment, api: str, package: str) -> None:
        super().__init__(environment)
        # The library under test is "sync"/"async"; a variant (--compare) is "sync:NAME".
        self.name = api if package == "pgqrs" else f"{api}:{package}"
        self.api = api
        self.package = package

    def reset(self, workload: str) -> None:
        self.environment.reset_pgqrs(keep_archive=workload == "W7")
        self.queue = self.create_queue(f"{workload.lower()}-{self.runs}")

    def create_queue(self, name: str) -> Any:
        raise NotImplementedError

    def fill(self, count: int) -> None:
        self.environment.fill_pgqrs(self.queue.id, count)

    def stored(self) -> int:
        return self.environment.pgqrs_messages(self.queue.id)

    def archived(self) -> int:
        return self.environment.pgqrs_archived(self.queue.id)

    def job(self) -> parallel.Job:
        environment = self.environment
        return parallel.Job(
            self.api, environment.dsn, environment.schema, self.queue.queue_name, self.package
        )


class SyncTarget(_PgqrsTarget):
    """pgqrs through its blocking API (`pgqrs.sync`)."""

    def __init__(self, environment: Environment, package: str = "pgqrs") -> None:
        super().__init__(environment, "sync", package)
        self.module = importlib.import_module(f"{package}.sync")
        self.admin = self.module.PgqrsAdmin.connect(environment.config)

    def create_queue(self, name: str) -> Any:
        return self.admin.create_queue(name)

    def steps(self, workload: str, limit: int | None = None) -> Iterator[None]:
        config = self.environment.config
        if workload in ("W1", "W2"):
            producer = self.module.Producer(self.admin.pool, self.queue, config)
            if workload == "W1":
                return library.enqueue_each(producer, self.work)
            return library.enqueue_batches(producer, self.work)
        consumer = self.module.Consumer(self.admin.pool, self.queue, config)
        consumer.register()
        if workload == "W4":
            return library.drain_each(consumer, self.seen)
        return library.drain(consumer, BATCH_SIZE, workload == "W3a", limit, self.seen)

    def recover(self) -> None:
        self.admin.pool.check()

    def close(self) -> None:
        self.admin.close()
        super().close()


class AsyncTarget(_PgqrsTarget):
    """pgqrs through its async API, on one event loop kept for the whole run."""

    def __init__(self, environment: Environment, package: str = "pgqrs") -> None:
        super().__init__(environment, "async", package)
        self.module = importlib.import_module(package)
        self.loop = asyncio.new_event_loop()
        self.admin = self.loop.run_until_complete(self.module.PgqrsAdmin.connect(environment.config))

    def create_queue(self, name: str) -> Any:
        return self.loop.run_until_complete(self.admin.create_queue(name))

    def steps(self, workload: str, limit: int | None = None) -> Iterator[None]:
        config = self.environment.config
        if workload in ("W1", "W2"):
            producer = self.module.Producer(self.admin.pool, self.queue, config)
            if workload == "W1":
                return drive(self.loop, library.enqueue_each_async(producer, self.work))
            return drive(self.loop, library.enqueue_batches_async(producer, self.work))
        consumer = self.module.Consumer(self.admin.pool, self.queue, config)
        self.loop.run_until_complete(consumer.register())
        if workload == "W4":
            return drive(self.loop, library.drain_each_async(consumer, self.seen))
        steps = library.drain_async(consumer, BATCH_SIZE, workload == "W3a", limit, self.seen)
        return drive(self.loop, steps)

    def recover(self) -> None:
        self.loop.run_until_complete(self.admin.pool.check())

    def close(self) -> None:
        self.loop.run_until_complete(self.admin.close())
        self.loop.close()
        super().close()
