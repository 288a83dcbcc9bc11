"""Periodic jobs on the database: the admin API, one enqueue per tick, catch-up, the app's runtime.

Ticks are set up against the database clock (a schedule's last_tick_at moved into the past, as
after downtime), so these tests wait for no tick but the app's, which runs every second.
"""

from __future__ import annotations

import datetime
from typing import Any

import psycopg
import pytest

import pgqrs
from pgqrs import schedules
from pgqrs._async import scheduler

Raw = psycopg.Connection[tuple[object, ...]]


def database_now(raw: Raw) -> datetime.datetime:
    row = raw.execute("SELECT now()").fetchone()
    assert row is not None and isinstance(row[0], datetime.datetime)
    return row[0]


def move_back(raw: Raw, schema: str, name: str, hours: int) -> None:
    """Record the schedule's last tick `hours` ago: as if every runtime had been down since."""
    raw.execute(
        f'UPDATE "{schema}".pgqrs_schedules SET last_tick_at = now() - make_interval(hours => %s) '
        "WHERE name = %s",
        (hours, name),
    )


def half_an_hour_off(raw: Raw) -> str:
    """Return an hourly cron expression whose latest tick is about 30 minutes ago."""
    return f"{(database_now(raw).minute + 30) % 60} * * * *"


async def test_add_list_get_and_remove(admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo) -> None:
    nightly = schedules.Schedule("nightly", "jobs", cron="0 3 * * *", timezone="Europe/Berlin", payload=[1])
    stored = await admin.add_schedule(nightly)
    assert (stored.name, stored.queue_name, stored.cron, stored.every_seconds) == (
        "nightly",
        "jobs",
        "0 3 * * *",
        None,
    )
    assert (stored.timezone, stored.payload, stored.catch_up) == ("Europe/Berlin", [1], True)
    assert stored.last_tick_at == stored.created_at  # no tick before the schedule existed
    often = await admin.add_schedule(schedules.Schedule("often", "jobs", every=2, priority=5))
    assert [s.name for s in await admin.list_schedules()] == ["nightly", "often"]
    assert await admin.get_schedule("often") == often
    assert await admin.schedules.count() == 2 and await admin.schedules.count_by_fk(queue.id) == 2

    with pytest.raises(pgqrs.errors.ScheduleAlreadyExists, match="'nightly' already exists"):
        await admin.add_schedule(schedules.Schedule("nightly", "jobs", every=60))
    replaced = await admin.add_schedule(schedules.Schedule("nightly", "jobs", every=60), replace=True)
    assert (replaced.id, replaced.cron, replaced.every_seconds) == (stored.id, None, 60.0)
    assert replaced.last_tick_at == stored.last_tick_at  # recorded ticks stay recorded

    await admin.remove_schedule("nightly")
    with pytest.raises(pgqrs.errors.ScheduleNotFound, match="'nightly' does not exist"):
        await admin.remove_schedule("nightly")
    with pytest.raises(pgqrs.errors.ScheduleNotFound):
        await admin.get_schedule("nightly")
    assert [s.name for s in await admin.list_schedules()] == ["often"]


async def test_a_schedule_needs_its_queue_and_goes_with_it(admin: pgqrs.PgqrsAdmin) -> None:
    with pytest.raises(pgqrs.QueueNotFound, match="'reports' does not exist"):
        await admin.add_schedule(schedules.Schedule("daily", "reports", cron="0 0 * * *"))
    assert await admin.list_schedules() == []
    await admin.create_queue("reports")
    await admin.add_schedule(schedules.Schedule("daily", "reports", cron="0 0 * * *"))
    await admin.delete_queue("reports")
    assert await admin.list_schedules() == []


async def test_a_tick_is_recorded_once_and_never_an_older_one(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, raw: Raw
) -> None:
    stored = await admin.add_schedule(schedules.Schedule("s", "jobs", every=1, payload={"kind": "tick"}))
    tick = stored.last_tick_at + datetime.timedelta(seconds=1)
    won, message_id = await admin.schedules.tick(stored, queue.id, tick, True)
    assert won and message_id is not None
    assert await admin.schedules.tick(stored, queue.id, tick, True) == (False, None)
    earlier = tick - datetime.timedelta(milliseconds=500)
    assert await admin.schedules.tick(stored, queue.id, earlier, True) == (False, None)
    messages = await admin.messages.filter_by_fk(queue.id)
    assert [(m.id, m.payload) for m in messages] == [(message_id, {"kind": "tick"})]
    assert schedules.tick_of(messages[0]) == ("s", tick)
    assert (await admin.get_schedule("s")).last_tick_at == tick


async def test_after_downtime_only_the_latest_missed_tick_is_enqueued(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, raw: Raw
) -> None:
    cron = half_an_hour_off(raw)
    await admin.add_schedule(schedules.Schedule("hourly", "jobs", cron=cron, payload={"n": 1}, priority=7))
    move_back(raw, admin.schema, "hourly", 5)  # five ticks missed
    ticks = scheduler.Scheduler(admin.schedules)

    await ticks.run_once()
    await ticks.run_once()  # a second pass (or another runtime) finds nothing due

    messages = await admin.messages.filter_by_fk(queue.id)
    assert [(m.payload, m.priority) for m in messages] == [({"n": 1}, 7)]
    latest = schedules.latest_tick(cron, None, "UTC", database_now(raw))
    assert schedules.tick_of(messages[0]) == ("hourly", latest)
    assert (await admin.get_schedule("hourly")).last_tick_at == latest
    assert ticks.enqueued == 1


async def test_without_catch_up_missed_ticks_are_skipped(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, raw: Raw
) -> None:
    cron = half_an_hour_off(raw)
    await admin.add_schedule(schedules.Schedule("hourly", "jobs", cron=cron, catch_up=False))
    move_back(raw, admin.schema, "hourly", 5)

    await scheduler.Scheduler(admin.schedules).run_once()

    assert await admin.messages.count_by_fk(queue.id) == 0
    latest = schedules.latest_tick(cron, None, "UTC", database_now(raw))
    assert (await admin.get_schedule("hourly")).last_tick_at == latest  # skipped for good


async def test_the_app_stores_its_schedules_and_enqueues_each_tick_once(
    config: pgqrs.Config, raw: Raw
) -> None:
    fast = config.replace(poll_interval=0.05)
    seen: list[Any] = []
    app = pgqrs.App()

    @app.periodic("* * * * * *", payload={"report": "daily"}, name="every second")
    @app.handler("reports")
    async def report(message: pgqrs.QueueMessage) -> None:
        seen.append((message.payload, schedules.tick_of(message)))
        if len(seen) == 3:
            app.stop()

    await app.run(fast)

    assert [payload for payload, _tick in seen] == [{"report": "daily"}] * 3
    names = [tick[0] for _payload, tick in seen if tick is not None]
    moments = [tick[1] for _payload, tick in seen if tick is not None]
    assert names == ["every second"] * 3 and moments == sorted(set(moments))
    stored = raw.execute(f'SELECT name, last_tick_at FROM "{fast.schema}".pgqrs_schedules').fetchall()
    # Stored by run; the last tick recorded is the last one handled, or one enqueued after it.
    assert [name for name, _last in stored] == ["every second"]
    last_tick = stored[0][1]
    assert isinstance(last_tick, datetime.datetime) and last_tick >= moments[-1]


async def test_a_schedule_this_process_cannot_read_is_skipped_and_the_others_run(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, raw: Raw, caplog: pytest.LogCaptureFixture
) -> None:
    cron = half_an_hour_off(raw)
    await admin.add_schedule(schedules.Schedule("good", "jobs", cron=cron))
    await admin.add_schedule(schedules.Schedule("odd", "jobs", cron=cron))
    # Stored by a process whose tz database knows a zone this one does not.
    raw.execute(
        f'UPDATE "{admin.schema}".pgqrs_schedules SET timezone = %s WHERE name = %s', ("Mars/Olympus", "odd")
    )
    move_back(raw, admin.schema, "good", 5)
    move_back(raw, admin.schema, "odd", 5)
    ticks = scheduler.Scheduler(admin.schedules)

    wait = await ticks.run_once()
    await ticks.run_once()

    assert 0 < wait <= scheduler.RELOAD_SECONDS + 0.1
    assert [schedules.tick_of(m)[0] for m in await admin.messages.filter_by_fk(queue.id)] == ["good"]  # type: ignore[index]
    warnings = [r.getMessage() for r in caplog.records if "is not run here" in r.getMessage()]
    assert len(warnings) == 1  # once, not at every pass
    assert warnings[0].startswith("schedule odd is not run here: timezone: unknown time zone 'Mars/Olympus'")
