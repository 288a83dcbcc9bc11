"""App: a registry of handlers, and the runtime that works their queues.

    app = pgqrs.App()

    @app.handler("emails", concurrency=8, lock_time=30)
    async def send_email(message: pgqrs.QueueMessage) -> None: ...

    app.periodic("*/5 * * * *", queue="reports", payload={"kind": "daily"})

    stats = await app.run(config)        # until app.stop(), from any task, thread or signal

Registering does no I/O. `run` installs the schema if needed (a no-op when current), creates
missing queues, stores the app's schedules, starts one QueueWorker per handler with its settler
and lease keeper, one listener for wake-ups, the housekeeping and the scheduler (which runs
every schedule stored on the schema), and on stop drains gracefully (see `stop`).
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pgqrs import _payload_types, errors, runtime, schedules
from pgqrs import config as config_module
from pgqrs._async import _compat, lease_keeper, listener, maintenance, scheduler, worker
from pgqrs._async import admin as admin_module
from pgqrs._async import consumer as consumer_module

logger = logging.getLogger("pgqrs.worker")
FunctionT = TypeVar("FunctionT", bound=Callable[..., Any])
_CHECK_EVERY = 0.05  # seconds between checks of an until_empty run


class App:
    """A registry of handlers, one per queue, and their runtime (`run`, `stop`)."""

    def __init__(self) -> None:
        self._handlers: dict[str, runtime.Handler] = {}
        self._schedules: dict[str, schedules.Schedule] = {}
        self._stopping = _compat.Signal()
        self._hurry = _compat.Signal()
        self._failure: BaseException | None = None
        self.stats = runtime.RunStats()

    @property
    def handlers(self) -> dict[str, runtime.Handler]:
        """Return the registered handlers by queue name."""
        return dict(self._handlers)

    def handler(
        self,
        queue: str,
        *,
        concurrency: int = 1,
        lock_time: float | None = None,
        retry: runtime.RetryPolicy | None = None,
        on_success: runtime.OnSuccess = "archive",
        payload_type: type[Any] | None = None,
    ) -> Callable[[FunctionT], FunctionT]:
        """Register the decorated function as the handler of `queue` (one handler per queue).

        Args:
            queue: The queue it works (created by `run` when missing).
            concurrency: How many messages it handles at once.
            lock_time: The lease, renewed while it runs; default_lock_time_seconds when None.
            retry: How failures are retried; default: backoff, max_read_count attempts.
            on_success: "archive" (the default) or "delete" what it handled.
            payload_type: Decode each payload into this type before the call.

        Raises:
            ValidationError: A bad setting, a second handler for the queue, or a function this
                runtime cannot call (a plain function here, or a coroutine in pgqrs.sync.App).
        """

        if payload_type is not None:
            _payload_types.check_payload_type(payload_type)
        policy = retry if retry is not None else runtime.RetryPolicy()
        # Checked now, at the decorator line, rather than when the function arrives.
        settings = runtime.Handler(queue, print, concurrency, lock_time, policy, on_success, payload_type)

        def register(function: FunctionT) -> FunctionT:
            _compat.check_handler(function)
            if queue in self._handlers:
                raise errors.ValidationError(f"queue {queue!r} already has a handler")
            self._handlers[queue] = dataclasses.replace(settings, function=function)
            return function

        return register

    @property
    def schedules(self) -> dict[str, schedules.Schedule]:
        """Return the app's periodic jobs by name."""
        return dict(self._schedules)

    def periodic(
        self,
        cron: str | None = None,
        *,
        every: float | datetime.timedelta | None = None,
        queue: str | None = None,
        payload: Any = None,
        name: str | None = None,
        timezone: str = "UTC",
        priority: int = 0,
        catch_up: bool = True,
    ) -> Callable[[FunctionT], FunctionT]:
        """Enqueue `payload` on `queue` at every tick of `cron` (or `every`), once per tick
        whatever the number of runtimes. `run` stores it on the schema (by name, replacing the
        stored definition); see docs/schedules.md.

        Called with `queue`, it registers at once; without, it decorates a handler (placed
        above `@app.handler(queue)`) and takes the handler's queue.

        Args:
            cron: Five fields, or six with the seconds first ("*/2 * * * * *": every 2 s).
            every: An interval (timedelta or seconds, at least 1), instead of `cron`.
            queue: The queue to enqueue on (created by `run` when missing).
            payload: The message's payload (JSON); {} when None.
            name: Unique on the schema; default: the queue and the timing.
            timezone: The IANA time zone the cron expression is read in.
            priority: The messages' priority.
            catch_up: After downtime, enqueue the latest missed tick (True) or none (False).

        Raises:
            ValidationError: A bad cron expression, interval or time zone, a name this app
                already uses, or (decorating) a function that is not a handler of this app.
        """
        timing = schedules.timing(cron, every, timezone)
        chosen = {} if payload is None else payload

        def register_for(queue_name: str) -> None:
            schedule_name = name if name is not None else schedules.default_name(queue_name, cron, every)
            schedule = schedules.Schedule(schedule_name, queue_name, *timing, chosen, priority, catch_up)
            if schedule.name in self._schedules:
                raise errors.ValidationError(f"the app already has a schedule named {schedule.name!r}")
            self._schedules[schedule.name] = schedule

        if queue is not None:
            register_for(queue)

        def decorate(function: FunctionT) -> FunctionT:
            if queue is None:
                register_for(runtime.queue_of(self._handlers.values(), function))
            return function

        return decorate

    def stop(self, immediate: bool = False) -> None:
        """Stop a running `run`, from any task, thread or signal handler.

        Graceful: fetch nothing more and let running handlers finish (up to run's
        shutdown_timeout), then stop what still runs. `immediate`: stop them at once. A stopped
        handler's message is given back untried; one that cannot be stopped (a thread, in
        pgqrs.sync.App) keeps its message until the lease ends (at most lock_time). A stop that
        comes before `run` has started (a signal during start-up) ends that run at once; the
        run after it starts afresh.
        """
        if immediate:
            self._hurry.set()
        self._stopping.set()

    async def run(
        self,
        config: config_module.Config | None = None,
        *,
        until_empty: bool = False,
        shutdown_timeout: float = 30.0,
        queues: Sequence[str] | None = None,
        concurrency: int | None = None,
    ) -> runtime.RunStats:
        """Work the handlers' queues until `stop` (or, with `until_empty`, until no message of
        them is visible, leased or waiting for a retry); return what was done.

        Args:
            config: Where and how; `Config.load()` when None.
            until_empty: Return once the queues hold nothing to do (tests, batch scripts).
            shutdown_timeout: Seconds running handlers get to finish after `stop`.
            queues: Work only these handlers' queues.
            concurrency: Override every handler's concurrency.
        """
        settings = config if config is not None else config_module.Config.load()
        handlers = self._selected(queues, concurrency)
        self._stopping.bind()
        self._hurry.bind()
        self._failure = None
        self.stats = runtime.RunStats()
        try:
            await self._connect_and_work(settings, handlers, until_empty, shutdown_timeout)
        finally:
            # Set up afresh for the next run only now: a stop made while this one started is kept.
            self._stopping = _compat.Signal()
            self._hurry = _compat.Signal()
        if self._failure is not None:
            raise self._failure
        return self.stats

    async def _connect_and_work(
        self,
        settings: config_module.Config,
        handlers: list[runtime.Handler],
        until_empty: bool,
        shutdown_timeout: float,
    ) -> None:
        # Each worker fetches, settles and renews on connections of its own, at once.
        pool_size = max(settings.max_connections, 3 * len(handlers) + 2)
        async with await admin_module.PgqrsAdmin.connect(
            settings.replace(max_connections=pool_size)
        ) as admin:
            await admin.install()
            await scheduler.store(admin, self._schedules.values())
            workers = [await self._worker(admin, handler, settings) for handler in handlers]
            try:
                await self._work(admin, settings, workers, until_empty, shutdown_timeout)
            finally:
                for queue_worker in workers:
                    queue_worker.close()

    def _selected(self, queues: Sequence[str] | None, concurrency: int | None) -> list[runtime.Handler]:
        handlers = list(self._handlers.values())
        if queues:
            unknown = sorted(set(queues) - set(self._handlers))
            if unknown:
                raise errors.ValidationError(f"no handler for queue(s): {', '.join(unknown)}")
            handlers = [handler for handler in handlers if handler.queue in queues]
        if not handlers:
            raise errors.ValidationError("the app has no handlers: register one with @app.handler(queue)")
        if concurrency is not None:
            handlers = [dataclasses.replace(handler, concurrency=concurrency) for handler in handlers]
        return handlers

    async def _worker(
        self, admin: admin_module.PgqrsAdmin, handler: runtime.Handler, config: config_module.Config
    ) -> worker.QueueWorker:
        try:
            queue = await admin.get_queue(handler.queue)
        except errors.QueueNotFound:
            queue = await admin.create_queue(handler.queue, exist_ok=True)
        # The consumer buries a message delivered more often than the handler's attempts allow
        # (its worker died each time): a poison message is dead-lettered, never delivered forever.
        allowed = handler.retry.attempts(config.max_read_count)
        consumer = consumer_module.Consumer(admin.pool, queue, config.replace(max_read_count=allowed))
        return worker.QueueWorker(handler, consumer, config, self.stats, self._stopping)

    async def _work(
        self,
        admin: admin_module.PgqrsAdmin,
        config: config_module.Config,
        workers: list[worker.QueueWorker],
        until_empty: bool,
        shutdown_timeout: float,
    ) -> None:
        keepers = [
            lease_keeper.LeaseKeeper(queue_worker, config.heartbeat_interval) for queue_worker in workers
        ]
        housekeeping = maintenance.Maintenance(
            admin.workers, config.heartbeat_interval, admin.retention, config.archive_retention
        )
        ticks = scheduler.Scheduler(admin.schedules)
        dsn = listener.listen_dsn(config)
        wakes = listener.Listener(config, dsn, {w.queue_id: w for w in workers}) if dsn else None
        if wakes is None:
            logger.info(
                "wake-ups need a direct connection (listen_dsn): polling every %gs", config.poll_interval
            )
        for queue_worker in workers:
            await queue_worker.consumer.register()
        fetchers = [self._spawn(w.run, f"fetch {w.handler.queue}") for w in workers]
        settlers = [self._spawn(w.settler.run, f"settle {w.handler.queue}") for w in workers]
        helpers = [self._spawn(keeper.run, "leases") for keeper in keepers]
        helpers.append(self._spawn(housekeeping.run, "housekeeping"))
        helpers.append(self._spawn(ticks.run, "scheduler"))
        if wakes is not None:
            helpers.append(self._spawn(wakes.run, "listener"))
        try:
            await self._wait(admin, workers, until_empty)
        finally:
            self._stopping.set()
            for queue_worker in workers:
                queue_worker.wake()
            await _compat.join(fetchers, None)
            await self._drain(workers, shutdown_timeout)
            for queue_worker in workers:
                queue_worker.settler.close()
            await _compat.join(settlers, None)
            for keeper in keepers:
                keeper.stop()
            housekeeping.stop()
            ticks.stop()
            if wakes is not None:
                wakes.stop()
            await _compat.join(helpers, None)
            for queue_worker in workers:
                await queue_worker.consumer.close()

    def _spawn(self, function: Callable[[], Any], name: str) -> _compat.Handle:
        return _compat.spawn(self._guarded, function, name, name=f"pgqrs {name}")

    async def _guarded(self, function: Callable[[], Any], name: str) -> None:
        """Run one of the runtime's loops; a failure stops the run and is raised by `run`."""
        try:
            await function()
        except Exception as error:
            logger.exception("the runtime's %s loop failed; stopping", name)
            if self._failure is None:
                self._failure = error
            self._stopping.set()

    async def _wait(
        self, admin: admin_module.PgqrsAdmin, workers: list[worker.QueueWorker], until_empty: bool
    ) -> None:
        """Return when stopped, or (until_empty) when no queue holds anything to do."""
        queue_ids = [queue_worker.queue_id for queue_worker in workers]
        while not self._stopping.is_set():
            await _compat.wait_event(self._stopping.event, _CHECK_EVERY if until_empty else 1.0)
            # Nothing held here (running, or waiting to be written), then nothing left in the
            # database: not the workers' last look, which may be a poll interval old.
            if (
                until_empty
                and not any(w.held_ids() for w in workers)
                and not await self._outstanding(admin, queue_ids)
            ):
                return

    async def _outstanding(self, admin: admin_module.PgqrsAdmin, queue_ids: list[int]) -> bool:
        """Whether the queues hold anything to do; True while the server cannot be asked (an
        outage ends no run: the workers ride through it and look again)."""
        try:
            return bool(await admin.messages.outstanding(queue_ids))
        except errors.DatabaseError as error:
            if not error.connection_lost:
                raise
            logger.warning("looking whether the queues are empty failed (%s); looking again", error)
            return True

    async def _drain(self, workers: list[worker.QueueWorker], timeout: float) -> None:
        """Let running handlers finish within `timeout` (none after an immediate stop); then
        cancel the rest (their messages are given back untried) and give up those still running
        (threads cannot be cancelled): their messages come back when their leases end."""
        deadline = time.monotonic() + timeout
        while not self._hurry.is_set():
            handles = [handle for w in workers for handle in w.running_handles()]
            left = deadline - time.monotonic()
            if not handles or left <= 0:
                break
            await _compat.join(handles, min(left, 0.1))
        late = [handle for w in workers for handle in w.running_handles()]
        for handle in late:
            _compat.cancel(handle)
        if late:
            # A cancelled task gives its message back as it ends: at once, unless it ignores it.
            await _compat.join(late, 0.1 if self._hurry.is_set() else 1.0)
        for queue_worker in workers:
            given_up = queue_worker.abandon_running()
            if given_up:
                logger.warning(
                    "queue %s: %d handler(s) still running at shutdown; their messages come back when "
                    "their leases end (within %gs)",
                    queue_worker.handler.queue,
                    given_up,
                    queue_worker.lock_time,
                )
