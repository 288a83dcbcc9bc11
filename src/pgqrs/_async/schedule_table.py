"""The pgqrs_schedules table: the periodic jobs every runtime on the schema enqueues.

`add` and `delete` are for the owner (the admin API and `pgqrs schedule`); `due` and `tick`
are what a runtime's scheduler (`pgqrs._async.scheduler`) runs on each pass.
"""

from __future__ import annotations

import builtins
import datetime
from typing import Any

from pgqrs import _notify, _validation, errors, models, schedules
from pgqrs._async import tables


class PgqrsSchedules(tables._TableBase[models.ScheduleInfo]):
    """The pgqrs_schedules table."""

    _prefix = "schedule"

    def _record(self, row: tuple[Any, ...]) -> models.ScheduleInfo:
        return models.ScheduleInfo(*row)

    def _missing(self, id: int) -> errors.NotFoundError:
        return errors.ScheduleNotFound(str(id), f"schedule with id {id} does not exist")

    async def insert(
        self, new: schedules.Schedule, queue_id: int, replace: bool = False
    ) -> models.ScheduleInfo:
        """Store a schedule for queue `queue_id` (or, with `replace`, redefine the one of its name).

        Raises:
            ScheduleAlreadyExists: The name is taken (and not `replace`).
            QueueNotFound: The queue does not exist.
        """
        params = {
            "name": new.name,
            "queue_id": queue_id,
            "cron": new.cron,
            "every_seconds": new.every,
            "timezone": new.timezone,
            "payload": _validation.encode_payload(new.payload, self.max_payload_bytes),
            "priority": new.priority,
            "catch_up": new.catch_up,
            "replace": replace,
        }
        try:
            row = await self._database.fetch_one("schedule_add", params)
        except errors.DatabaseError as error:
            if error.sqlstate == tables.FOREIGN_KEY_VIOLATION:
                raise errors.QueueNotFound(new.queue) from None
            raise
        if row is None:
            raise errors.ScheduleAlreadyExists(new.name)
        return self._record(row)

    async def get_by_name(self, name: str) -> models.ScheduleInfo:
        """Return the schedule with this name.

        Raises:
            ScheduleNotFound: No schedule has this name.
        """
        row = await self._database.fetch_one("schedule_get_by_name", {"name": name})
        if row is None:
            raise errors.ScheduleNotFound(name)
        return self._record(row)

    async def list(self) -> builtins.list[models.ScheduleInfo]:
        """Return every schedule, by name."""
        return [self._record(row) for row in await self._database.fetch("schedule_list")]

    async def delete_by_name(self, name: str) -> bool:
        """Delete the schedule with this name; return False when there was none."""
        return bool(await self._database.scalar("schedule_delete_by_name", {"name": name}))

    async def count_by_fk(self, id: int) -> int:
        """Return the number of schedules of queue `id`."""
        return int(await self._database.scalar("schedule_count_by_queue", {"queue_id": id}))

    async def filter_by_fk(self, id: int) -> builtins.list[models.ScheduleInfo]:
        """Return the schedules of queue `id`, by name."""
        rows = await self._database.fetch("schedule_filter_by_queue", {"queue_id": id})
        return [self._record(row) for row in rows]

    async def due(self) -> tuple[datetime.datetime, builtins.list[tuple[int, models.ScheduleInfo]]]:
        """Return the database clock's time and every schedule with its queue id."""
        rows = await self._database.fetch("schedule_due")
        now = rows[0][0]
        return now, [(row[1], self._record(row[2:])) for row in rows if row[2] is not None]

    async def tick(
        self, schedule: models.ScheduleInfo, queue_id: int, tick_at: datetime.datetime, enqueue: bool
    ) -> tuple[bool, int | None]:
        """Record tick `tick_at` of a schedule and (`enqueue`) put its message on its queue.

        Returns (whether this call had the tick, the new message's id or None): False when
        another runtime recorded this tick or a later one first.
        """
        params = {
            "id": schedule.id,
            "tick_at": tick_at,
            "dedup_key": schedules.tick_key(schedule.name, tick_at),
            "enqueue": enqueue,
            "channel": _notify.CHANNEL,
            "wake": _notify.wake_payload(self.schema, queue_id),
        }
        row = await self._database.fetch_one("schedule_tick", params)
        return (False, None) if row is None else (True, row[0])
