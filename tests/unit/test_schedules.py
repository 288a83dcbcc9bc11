"""Tick computation and validation of periodic jobs (pure: no database)."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest

import pgqrs
from pgqrs import schedules

UTC = datetime.timezone.utc
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def at(*parts: int, zone: datetime.tzinfo = UTC, micro: int = 0) -> datetime.datetime:
    return datetime.datetime(*parts, microsecond=micro, tzinfo=zone)


def ticks(schedule: schedules.Schedule, start: datetime.datetime, count: int) -> list[str]:
    """Return the next `count` ticks after `start`, as local ISO times in the schedule's zone."""
    found, moment = [], start
    for _ in range(count):
        moment = schedule.next_tick(moment)
        found.append(moment.astimezone(zoneinfo.ZoneInfo(schedule.timezone)).isoformat())
    return found


def test_six_fields_put_the_seconds_first() -> None:
    every_two = schedules.Schedule("s", "q", cron="*/2 * * * * *")
    assert every_two.latest_tick(at(2026, 1, 1, 0, 0, 3, micro=500_000)) == at(2026, 1, 1, 0, 0, 2)
    # A tick at exactly `now` is the latest one, not the one before.
    assert every_two.latest_tick(at(2026, 1, 1, 0, 0, 4)) == at(2026, 1, 1, 0, 0, 4)
    assert every_two.next_tick(at(2026, 1, 1, 0, 0, 4)) == at(2026, 1, 1, 0, 0, 6)
    five_minutes = schedules.Schedule("f", "q", cron="*/5 * * * *")
    assert five_minutes.next_tick(at(2026, 1, 1, 10, 3)) == at(2026, 1, 1, 10, 5)


def test_an_interval_counts_from_the_epoch_whatever_the_zone() -> None:
    schedule = schedules.Schedule("s", "q", every=datetime.timedelta(seconds=2), timezone="Europe/Berlin")
    assert schedule.every == 2.0
    assert schedule.latest_tick(at(2026, 1, 1, 0, 0, 5, micro=1)) == at(2026, 1, 1, 0, 0, 4)
    assert schedule.next_tick(at(2026, 1, 1, 0, 0, 4)) == at(2026, 1, 1, 0, 0, 6)


def test_a_fixed_time_in_the_spring_gap_runs_once_at_its_end() -> None:
    # 2026-03-29 in Berlin: 02:00 CET jumps to 03:00 CEST; 02:30 does not exist that day.
    nightly = schedules.Schedule("n", "q", cron="30 2 * * *", timezone="Europe/Berlin")
    assert ticks(nightly, at(2026, 3, 28, 12, zone=BERLIN), 3) == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]


def test_a_fixed_time_in_the_repeated_autumn_hour_runs_once() -> None:
    # 2026-10-25 in Berlin: 03:00 CEST goes back to 02:00 CET; 02:30 happens twice.
    nightly = schedules.Schedule("n", "q", cron="30 2 * * *", timezone="Europe/Berlin")
    assert ticks(nightly, at(2026, 10, 24, 12, zone=BERLIN), 2) == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
    ]


def test_six_fields_get_no_debian_fix_up_at_the_changes() -> None:
    """Six-field expressions are not Debian cron's: a time in the skipped hour does not happen
    that day, and one in the repeated hour happens in both passes."""
    nightly = schedules.Schedule("n", "q", cron="0 30 2 * * *", timezone="Europe/Berlin")
    assert ticks(nightly, at(2026, 3, 28, 12, zone=BERLIN), 2) == [
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]
    assert ticks(nightly, at(2026, 10, 24, 12, zone=BERLIN), 3) == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:30:00+01:00",
        "2026-10-26T02:30:00+01:00",
    ]


def test_a_frequent_job_keeps_its_pace_in_real_time_across_the_autumn_hour() -> None:
    half_hourly = schedules.Schedule("h", "q", cron="*/30 * * * *", timezone="Europe/Berlin")
    found = ticks(half_hourly, at(2026, 10, 25, 1, 0, zone=BERLIN), 6)
    assert found == [
        "2026-10-25T01:30:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:30:00+01:00",
        "2026-10-25T03:00:00+01:00",
    ]
    # The latest tick and the next one agree across the change (reverse and forward).
    repeated = datetime.datetime.fromisoformat("2026-10-25T02:10:00+01:00")
    assert half_hourly.latest_tick(repeated).isoformat() == "2026-10-25T01:00:00+00:00"
    assert half_hourly.next_tick(repeated).isoformat() == "2026-10-25T01:30:00+00:00"


def test_only_the_latest_missed_tick_is_due_and_only_once() -> None:
    schedule = schedules.Schedule("s", "q", cron="*/2 * * * * *")
    recorded = at(2026, 1, 1, 0, 0, 0)
    now = at(2026, 1, 1, 0, 1, 0, micro=300_000)  # a minute down: 30 ticks missed
    assert schedules.due(schedule, recorded, now) == (at(2026, 1, 1, 0, 1, 0), True)
    assert schedules.due(schedule, at(2026, 1, 1, 0, 1, 0), now) is None


def test_an_interval_that_binary_floats_cannot_hold_keeps_every_tick() -> None:
    """1.1 s: float floor division put the tick at 3.3 s one period early (3.3 // 1.1 == 2.0),
    and without catch-up such a tick's period came out as 0: recorded, never enqueued."""
    epoch = datetime.datetime(1970, 1, 1, tzinfo=UTC)
    schedule = schedules.Schedule("s", "q", every=1.1, catch_up=False)
    for index in range(1, 200):
        tick = epoch + datetime.timedelta(microseconds=1_100_000 * index)
        assert schedule.latest_tick(tick) == tick
        assert schedule.next_tick(tick) - tick == datetime.timedelta(seconds=1.1)
        previous = tick - datetime.timedelta(seconds=1.1)
        assert schedules.due(schedule, previous, tick) == (tick, True)


def test_a_name_too_long_for_its_ticks_keys_is_refused() -> None:
    schedules.Schedule("n" * schedules.MAX_NAME_BYTES, "q", every=60)
    with pytest.raises(pgqrs.ValidationError, match="longer than 200 bytes"):
        schedules.Schedule("n" * (schedules.MAX_NAME_BYTES + 1), "q", every=60)


def test_without_catch_up_a_late_tick_is_recorded_but_not_enqueued() -> None:
    schedule = schedules.Schedule("s", "q", every=60, catch_up=False)
    recorded = at(2026, 1, 1, 0, 0, 0)
    assert schedules.due(schedule, recorded, at(2026, 1, 1, 0, 1, 5)) == (at(2026, 1, 1, 0, 1), True)
    # 31 s late is more than half the period: the runtime was down at the tick.
    assert schedules.due(schedule, recorded, at(2026, 1, 1, 0, 1, 31)) == (at(2026, 1, 1, 0, 1), False)


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"cron": "61 * * * *"}, "'61 * * * *' is not a valid cron expression (Bad minute)"),
        ({"cron": "* * *"}, "has 3 field(s)"),
        ({"cron": "@hourly"}, "has 1 field(s)"),
        ({"cron": 5}, "cron must be a string"),
        ({"cron": "* * * * *", "timezone": "Berlin"}, "unknown time zone 'Berlin'"),
        ({"cron": "* * * * *", "timezone": ""}, "IANA time zone name"),
        ({"every": 0.5}, "every must be at least 1 second"),
        ({"every": "2s"}, "every must be a timedelta or a number of seconds"),
        ({}, "a cron expression or every="),
        ({"cron": "* * * * *", "every": 5}, "a cron expression or every="),
        ({"cron": "* * * * *", "priority": 1000}, "priority must be an integer"),
        ({"cron": "* * * * *", "payload": {"at": object()}}, "not JSON serializable"),
        ({"cron": "* * * * *", "payload": float("nan")}, "payload is not valid JSON"),
    ],
)
def test_bad_definitions_are_validation_errors_naming_the_problem(arguments: dict, problem: str) -> None:
    with pytest.raises(pgqrs.ValidationError) as raised:
        schedules.Schedule("s", "q", **arguments)
    assert problem in str(raised.value)


def test_a_zoneinfo_is_taken_by_its_name() -> None:
    schedule = schedules.Schedule("s", "q", cron="0 9 * * *", timezone=BERLIN)  # type: ignore[arg-type]
    assert schedule.timezone == "Europe/Berlin"
    assert schedule.next_tick(at(2026, 7, 1, 0, 0)) == at(2026, 7, 1, 7, 0)


def test_decorating_a_handler_takes_its_queue() -> None:
    app = pgqrs.App()

    @app.periodic(every=5, payload={"kind": "digest"})
    @app.handler("digests")
    async def digest(message: pgqrs.QueueMessage) -> None: ...

    app.periodic("0 * * * *", queue="reports", name="hourly")
    assert {name: (s.queue, s.payload) for name, s in app.schedules.items()} == {
        "digests every 5s": ("digests", {"kind": "digest"}),
        "hourly": ("reports", {}),
    }
    with pytest.raises(pgqrs.ValidationError, match="already has a schedule named 'hourly'"):
        app.periodic("0 * * * *", queue="reports", name="hourly")


def test_decorating_a_function_that_is_no_handler_is_refused() -> None:
    app = pgqrs.App()
    with pytest.raises(pgqrs.ValidationError, match=r"above @app\.handler"):

        @app.handler("digests")
        @app.periodic(every=5)
        async def digest(message: pgqrs.QueueMessage) -> None: ...

    with pytest.raises(pgqrs.ValidationError, match="Bad hour"):
        app.periodic("0 25 * * *", queue="reports")


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
@pytest.mark.parametrize(
    "cron", ["*/30 * * * *", "30 2 * * *", "15 1,2,3 * * *", "0 */7 * * * *", "0 0 2 * * *"]
)
@pytest.mark.parametrize("day", [(2026, 3, 29), (2026, 10, 25), (2026, 3, 8), (2026, 11, 1)])
def test_the_latest_tick_is_the_last_of_the_ticks_in_order(
    zone: str, cron: str, day: tuple[int, int, int]
) -> None:
    """Around each change of both zones: stepping forward gives ticks in real-time order, none
    twice, and latest_tick(t) is the last of them at or before t (on a tick and between ticks)."""
    start = at(*day) - datetime.timedelta(hours=24)
    found = [schedules.next_tick(cron, None, zone, start)]
    while found[-1] < start + datetime.timedelta(hours=48):
        found.append(schedules.next_tick(cron, None, zone, found[-1]))
    assert found == sorted(set(found))
    middle = [tick for tick in found if start + datetime.timedelta(hours=12) < tick < found[-1]]
    probes = middle + [tick + datetime.timedelta(seconds=1) for tick in middle]
    probes += [start + datetime.timedelta(hours=12, minutes=17 * n) for n in range(80)]
    for probe in (probe for probe in probes if found[0] <= probe < found[-1]):
        assert schedules.latest_tick(cron, None, zone, probe) == max(tick for tick in found if tick <= probe)
