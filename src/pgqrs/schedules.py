"""Periodic jobs: what a schedule enqueues, and when its ticks fall.

A schedule enqueues its payload on its queue at every tick: a cron expression (five fields, or
six with the seconds field first: ``"*/2 * * * * *"`` is every 2 seconds) read in a time zone,
or a fixed interval (``every``, at least a second) counted from the Unix epoch, so its ticks are
the same for every worker. Cron expressions are parsed by cronsim, which keeps Debian cron's
rules at daylight-saving changes: a job at a fixed time of day that falls in the hour skipped in
spring runs once, at the end of the gap; one in the hour repeated in autumn runs once, not twice.

Pure code (no I/O): the runtime (`pgqrs._async.scheduler`) asks `latest_tick` and `next_tick`
with the database clock's time, and enqueues each tick at most once (a compare-and-set on the
schedule's row: see sql/schedules.sql). The message's dedup key names the schedule and the tick:
`tick_of(message)` tells a handler which tick it is for.
"""

from __future__ import annotations

import dataclasses
import datetime
import zoneinfo
from typing import Any

import cronsim

from pgqrs import _validation, errors, models

MIN_INTERVAL_SECONDS = 1.0
# A schedule without catch-up skips a tick found later than this (the runtime was down), or
# later than half its period, whichever is less.
SKIP_AFTER_SECONDS = 60.0
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_MICROSECOND = datetime.timedelta(microseconds=1)
# A scheduled message's dedup key: this prefix, the schedule's name, "@", the tick (ISO 8601, UTC).
_KEY_PREFIX = "schedule:"
MAX_NAME_BYTES = 200
_ANY_SIZE = 1 << 62


@dataclasses.dataclass(frozen=True)
class Schedule:
    """A periodic enqueue: `payload` onto `queue` at every tick of `cron` (or `every` seconds).

    `catch_up`: after downtime, enqueue the latest missed tick once (True, the default; older
    missed ticks are not enqueued), or skip missed ticks (False).
    """

    name: str
    queue: str
    cron: str | None = None
    every: float | None = None
    timezone: str = "UTC"
    payload: Any = dataclasses.field(default_factory=dict)
    priority: int = 0
    catch_up: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or "\x00" in self.name:
            raise errors.ValidationError(f"schedule name must be a non-empty string, got {self.name!r}")
        if len(self.name.encode()) > MAX_NAME_BYTES:
            # Its ticks' dedup keys hold the name and must fit the key index (see tick_key).
            raise errors.ValidationError(f"schedule name is longer than {MAX_NAME_BYTES} bytes")
        _validation.queue_name(self.queue)
        _validation.priority(self.priority)
        # JSON that jsonb accepts; the size is checked against the config's limit when stored.
        _validation.encode_payload(self.payload, _ANY_SIZE)
        cron, every, zone = timing(self.cron, self.every, self.timezone)
        object.__setattr__(self, "cron", cron)
        object.__setattr__(self, "every", every)
        object.__setattr__(self, "timezone", zone)

    def latest_tick(self, now: datetime.datetime) -> datetime.datetime:
        """Return the latest tick at or before `now`."""
        return latest_tick(self.cron, self.every, self.timezone, now)

    def next_tick(self, now: datetime.datetime) -> datetime.datetime:
        """Return the first tick after `now`."""
        return next_tick(self.cron, self.every, self.timezone, now)


def timing(cron: object, every: object, timezone: object) -> tuple[str | None, float | None, str]:
    """Return (cron, every seconds, time zone name) checked: a cron expression or an interval.

    Raises:
        ValidationError: Both or neither given, a bad cron expression, an interval under a
            second, or an unknown time zone; the message names the problem.
    """
    zone = timezone_name(timezone)
    if (cron is None) == (every is None):
        raise errors.ValidationError("a schedule takes a cron expression or every=, one of them")
    if cron is not None:
        return cron_expression(cron), None, zone
    return None, interval_seconds(every), zone


def default_name(queue: str, cron: str | None, every: Any) -> str:
    """Return the name a schedule gets when none is given: its queue and its timing."""
    timing = cron if cron is not None else f"every {interval_seconds(every):g}s"
    return f"{queue} {timing}"


def timezone_name(value: object) -> str:
    """Return an IANA time zone name (given as a name or a ZoneInfo), else raise ValidationError."""
    if isinstance(value, zoneinfo.ZoneInfo):
        value = value.key
    elif value is datetime.timezone.utc:
        value = "UTC"
    if not isinstance(value, str) or not value:
        raise errors.ValidationError(
            f"timezone must be an IANA time zone name such as 'Europe/Berlin', got {value!r}"
        )
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise errors.ValidationError(
            f"timezone: unknown time zone {value!r}; use an IANA name such as 'UTC' or 'Europe/Berlin'"
        ) from None
    return value


def cron_expression(value: object) -> str:
    """Return a valid cron expression (5 fields, or 6 with seconds first), else raise ValidationError."""
    if not isinstance(value, str):
        raise errors.ValidationError(f"cron must be a string, got {type(value).__name__}")
    expression = " ".join(value.split())
    fields = len(expression.split())
    if fields not in (5, 6):
        raise errors.ValidationError(
            f"cron: {value!r} has {fields} field(s); use 5 (minute hour day month weekday) "
            "or 6 with the seconds first (second minute hour day month weekday)"
        )
    try:
        cronsim.CronSim(expression, _EPOCH)
    except (cronsim.CronSimError, ValueError) as error:
        raise errors.ValidationError(f"cron: {value!r} is not a valid cron expression ({error})") from None
    return expression


def interval_seconds(value: object) -> float:
    """Return `every` (timedelta or seconds) as seconds, at least MIN_INTERVAL_SECONDS."""
    result = _validation.seconds(value, "every")
    if result < MIN_INTERVAL_SECONDS:
        raise errors.ValidationError(f"every must be at least {MIN_INTERVAL_SECONDS:g} second, got {value!r}")
    return result


def _microseconds(every: float) -> int:
    return max(1, round(every * 1_000_000))


def latest_tick(
    cron: str | None, every: float | None, timezone: str, now: datetime.datetime
) -> datetime.datetime:
    """Return the latest tick at or before `now` (an aware datetime)."""
    if every is not None:
        # Whole microseconds: float division would put some ticks of a period like 1.1 s one
        # period early (3.3 // 1.1 == 2.0), and the tick after such a tick would be itself.
        period = _microseconds(every)
        elapsed = (now - _EPOCH) // _MICROSECOND
        return _EPOCH + datetime.timedelta(microseconds=elapsed // period * period)
    assert cron is not None
    zone = zoneinfo.ZoneInfo(timezone)
    # Reverse iteration starts strictly before a whole second: one microsecond later includes it.
    # In the hour repeated in autumn it may answer the first pass's tick for the second pass's,
    # so the candidate is corrected by stepping forward (forward iteration keeps real time).
    candidate = _utc(next(cronsim.CronSim(cron, now.astimezone(zone) + _MICROSECOND, reverse=True)))
    while candidate > now:
        candidate = _utc(next(cronsim.CronSim(cron, candidate.astimezone(zone), reverse=True)))
    while (following := next_tick(cron, None, timezone, candidate)) <= now:
        candidate = following
    return candidate


def next_tick(
    cron: str | None, every: float | None, timezone: str, now: datetime.datetime
) -> datetime.datetime:
    """Return the first tick after `now` (an aware datetime)."""
    if every is not None:
        return latest_tick(None, every, timezone, now) + datetime.timedelta(microseconds=_microseconds(every))
    assert cron is not None
    local = now.astimezone(zoneinfo.ZoneInfo(timezone))
    return _utc(next(cronsim.CronSim(cron, local)))


def due(
    schedule: Schedule, done_until: datetime.datetime, now: datetime.datetime
) -> tuple[datetime.datetime, bool] | None:
    """Return (the tick to record, whether to enqueue it), or None when no tick is due.

    `done_until` is the last tick recorded (or the schedule's creation): a later tick at or before
    `now` is due. Only the latest is returned, so missed ticks enqueue once; without catch-up a
    tick found too late (see SKIP_AFTER_SECONDS) is recorded but not enqueued.
    """
    tick = schedule.latest_tick(now)
    if tick <= done_until:
        return None
    if schedule.catch_up:
        return tick, True
    period = (schedule.next_tick(tick) - tick).total_seconds()
    late = (now - tick).total_seconds()
    return tick, late <= min(SKIP_AFTER_SECONDS, period / 2)


def tick_key(name: str, tick: datetime.datetime) -> str:
    """Return the dedup key of the message of schedule `name`'s tick `tick`."""
    return f"{_KEY_PREFIX}{name}@{_utc(tick).isoformat()}"


def tick_of(message: models.QueueMessage) -> tuple[str, datetime.datetime] | None:
    """Return (schedule name, tick) of a message a schedule enqueued, or None for any other."""
    key = message.dedup_key
    if key is None or not key.startswith(_KEY_PREFIX):
        return None
    name, separator, moment = key[len(_KEY_PREFIX) :].rpartition("@")
    try:
        return (name, datetime.datetime.fromisoformat(moment)) if separator else None
    except ValueError:
        return None


def _utc(moment: datetime.datetime) -> datetime.datetime:
    return moment.astimezone(datetime.timezone.utc)
