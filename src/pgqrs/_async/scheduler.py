"""The runtime's scheduler: enqueues the ticks of every schedule stored on the schema.

Each runtime runs one. On each pass it reads the schedules and the database clock's time, and
for each schedule with a tick due (after its last_tick_at) records the latest such tick and
enqueues its message in one statement; a compare-and-set on the schedule's row lets exactly one
runtime through per tick, however many run (no leader to elect, none that can be two). Then it
sleeps until the earliest next tick, or RELOAD_SECONDS to see schedules added meanwhile.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable
from typing import Any

from pgqrs import errors, models, schedules
from pgqrs._async import _compat, schedule_table
from pgqrs._async import admin as admin_module

logger = logging.getLogger("pgqrs.worker")
RELOAD_SECONDS = 5.0
# Wake a little after a tick, so the database clock has passed it too.
_AFTER_TICK_SECONDS = 0.005
_RETRY_SECONDS = 1.0


async def store(admin: admin_module.PgqrsAdmin, app_schedules: Iterable[schedules.Schedule]) -> None:
    """Store an app's schedules by name (replacing the stored definitions), creating their queues."""
    try:
        for schedule in app_schedules:
            await admin.create_queue(schedule.queue, exist_ok=True)
            await admin.add_schedule(schedule, replace=True)
    except errors.PermissionDenied:
        # Least-privilege roles: the owner stores schedules (pgqrs schedule add); run those.
        logger.warning("this role may not store the app's schedules; running the stored ones")


class Scheduler:
    """Enqueues due ticks until `stop`."""

    def __init__(self, table: schedule_table.PgqrsSchedules) -> None:
        self.table = table
        self.enqueued = 0
        self._stopped = _compat.Event()
        self._broken: set[tuple[str, str | None, float | None, str]] = set()
        # Per schedule id: its timing and last tick as last read, and the first tick after that
        # last tick. While the database clock is before it nothing is due, and it is the next
        # tick: a pass over schedules that did not change computes nothing.
        self._upcoming: dict[int, tuple[tuple[Any, ...], datetime.datetime]] = {}

    def stop(self) -> None:
        """Stop at once."""
        self._stopped.set()

    async def run(self) -> None:
        """Enqueue due ticks, pass after pass, until stopped (or until the role may not)."""
        wait = 0.0
        while not await _compat.wait_event(self._stopped, wait):
            try:
                wait = await self.run_once()
            except errors.PermissionDenied:
                logger.info("not running schedules: this role may not enqueue their ticks")
                return
            except errors.PgqrsError as error:
                logger.warning("running schedules failed (%s); trying again", error)
                wait = _RETRY_SECONDS

    async def run_once(self) -> float:
        """Enqueue every due tick; return the seconds until the next pass."""
        now, stored = await self.table.due()
        wait = RELOAD_SECONDS
        for queue_id, info in stored:
            plan = self._plan(info, now)
            if plan is None:
                continue
            decision, next_tick = plan
            if decision is not None:
                try:
                    await self._tick(info, queue_id, *decision)
                except errors.PermissionDenied:
                    raise
                except errors.PgqrsError as error:
                    # One schedule's failure must not hold up the schedules after it.
                    logger.warning("schedule %s: tick %s not recorded (%s)", info.name, decision[0], error)
                    wait = min(wait, _RETRY_SECONDS)
                    continue
            wait = min(wait, (next_tick - now).total_seconds())
        for removed in set(self._upcoming) - {info.id for _queue_id, info in stored}:
            del self._upcoming[removed]
        return max(wait, 0.0) + _AFTER_TICK_SECONDS

    async def _tick(
        self, info: models.ScheduleInfo, queue_id: int, tick: datetime.datetime, enqueue: bool
    ) -> None:
        won, message_id = await self.table.tick(info, queue_id, tick, enqueue)
        if not won:
            return  # another runtime had this tick
        if message_id is None:
            logger.info("schedule %s: skipped tick %s (found late, catch_up off)", info.name, tick)
            return
        self.enqueued += 1
        logger.debug("schedule %s: enqueued tick %s as message %d", info.name, tick, message_id)

    def _plan(
        self, info: models.ScheduleInfo, now: datetime.datetime
    ) -> tuple[tuple[datetime.datetime, bool] | None, datetime.datetime] | None:
        """Return (the due tick and whether to enqueue it, or None; the next tick), or None
        (warned once) when this process cannot run the schedule: a time zone its tz database
        lacks, or a cron expression the parser cannot step through."""
        key = (info.cron, info.every_seconds, info.timezone, info.catch_up, info.last_tick_at)
        known = self._upcoming.get(info.id)
        if known is not None and known[0] == key and now < known[1]:
            return None, known[1]
        try:
            schedule = schedules.Schedule(
                info.name,
                info.queue_name,
                info.cron,
                info.every_seconds,
                info.timezone,
                info.payload,
                info.priority,
                info.catch_up,
            )
            self._upcoming[info.id] = (key, schedule.next_tick(info.last_tick_at))
            return schedules.due(schedule, info.last_tick_at, now), schedule.next_tick(now)
        except (errors.ValidationError, ValueError, OverflowError, StopIteration) as error:
            broken = (info.name, info.cron, info.every_seconds, info.timezone)
            if broken not in self._broken:
                self._broken.add(broken)
                logger.warning("schedule %s is not run here: %s", info.name, error)
            return None
