"""Scenario 13 - least privilege: pgqrs_producer, pgqrs_consumer and pgqrs_observer.

`pgqrs.roles.roles_sql` grants each group exactly what its job needs. Login roles that are
members of one group each connect (as themselves) and use the pgqrs API: every call of their job
works; every other call raises `PermissionDenied` ("permission denied"), a `DatabaseError`.
Roles are cluster-wide, so each test makes its own, named after its schema, and drops them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from psycopg import conninfo

from pgqrs import errors, roles
from pgqrs import sync as pgqrs
from pgqrs._sync import scheduler
from tests import support


@pytest.fixture
def logins(admin: pgqrs.PgqrsAdmin, direct_dsn: str, schema: str) -> Iterator[dict[str, str]]:
    """Grant the roles on the test schema; return a DSN per kind for a login member of it."""
    names = roles.role_names(prefix=schema)
    logins = {kind: f"{name}_login" for kind, name in names.items()}
    with support.connect(direct_dsn) as connection:
        connection.execute(roles.roles_sql(schema, prefix=schema))
        connection.execute(roles.roles_sql(schema, prefix=schema))  # idempotent
        for kind, login in logins.items():
            connection.execute(f'CREATE ROLE "{login}" LOGIN IN ROLE "{names[kind]}"')
    try:
        # Direct: PgBouncer only admits the users listed in its auth file.
        yield {kind: conninfo.make_conninfo(direct_dsn, user=login) for kind, login in logins.items()}
    finally:
        with support.connect(direct_dsn) as connection:
            for role in [*logins.values(), *names.values()]:
                connection.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
                )
                connection.execute(f'DROP OWNED BY "{role}"')
                connection.execute(f'DROP ROLE "{role}"')


def _as(dsn: str, admin: pgqrs.PgqrsAdmin) -> pgqrs.PgqrsAdmin:
    return pgqrs.PgqrsAdmin.connect(admin.config.replace(dsn=dsn, pooler="none"))


def _check(allowed: dict[str, Callable[[], Any]], denied: dict[str, Callable[[], Any]]) -> dict[str, str]:
    """Run every call: allowed ones must work, denied ones raise PermissionDenied."""
    outcome = {}
    for name, call in allowed.items():
        call()
        outcome[name] = "ok"
    for name, call in denied.items():
        with pytest.raises(errors.PermissionDenied, match=r"permission denied|must be owner") as raised:
            call()
        assert isinstance(raised.value, pgqrs.DatabaseError) and raised.value.sqlstate == "42501", name
        outcome[name] = "denied"
    return outcome


@pytest.fixture
def jobs(admin: pgqrs.PgqrsAdmin) -> pgqrs.QueueInfo:
    queue = admin.create_queue("jobs")
    pgqrs.Producer(admin.pool, queue, admin.config).batch_enqueue([{"n": index} for index in range(10)])
    return queue


def test_producer_role(
    admin: pgqrs.PgqrsAdmin, logins: dict[str, str], jobs: pgqrs.QueueInfo, figures: dict[str, Any]
) -> None:
    with _as(logins["producer"], admin) as producer_admin:
        producer = producer_admin.producer("jobs")
        consumer = pgqrs.Consumer(producer_admin.pool, jobs, producer_admin.config)
        sent = producer.enqueue({"n": "new"})
        outcome = _check(
            allowed={
                "get_queue": lambda: producer_admin.get_queue("jobs"),
                "enqueue": lambda: producer.enqueue({"n": 1}),
                "enqueue_delayed": lambda: producer.enqueue_delayed({"n": 2}, 60),
                "batch_enqueue": lambda: producer.batch_enqueue([{"n": 3}, {"n": 4}]),
                "extend_visibility": lambda: producer.extend_visibility(sent.id, 5),
                # On a current schema install only reads the version: an application may call
                # it at every start whatever its role.
                "install (current schema)": producer_admin.install,
            },
            denied={
                "dequeue": consumer.dequeue,
                "create_queue": lambda: producer_admin.create_queue("other"),
                "purge_queue": lambda: producer_admin.purge_queue("jobs"),
                "queue_metrics": lambda: producer_admin.queue_metrics("jobs"),
                "archive list": lambda: producer_admin.archive.filter_by_fk(jobs.id),
                "delete message (table API)": lambda: producer_admin.messages.delete(sent.id),
                "list_workers": producer_admin.list_workers,
                "uninstall": producer_admin.uninstall,
            },
        )
    figures.update(role="pgqrs_producer", **outcome)


def test_consumer_role(
    admin: pgqrs.PgqrsAdmin, logins: dict[str, str], jobs: pgqrs.QueueInfo, figures: dict[str, Any]
) -> None:
    with _as(logins["consumer"], admin) as consumer_admin:
        consumer = consumer_admin.consumer("jobs")
        producer = pgqrs.Producer(consumer_admin.pool, jobs, consumer_admin.config)
        strict = pgqrs.Consumer(consumer_admin.pool, jobs, consumer_admin.config.replace(max_read_count=1))
        taken = consumer.dequeue_batch(6, lock_time=60)
        assert len(taken) == 6
        ids = [message.id for message in taken]
        outcome = _check(
            allowed={
                "register": consumer.register,
                "heartbeat": consumer.heartbeat,
                "extend_visibility": lambda: _true(consumer.extend_visibility(ids[0], 5)),
                "delete": lambda: _true(consumer.delete(ids[0])),
                "archive": lambda: _true(consumer.archive(ids[1])),
                "delete_batch": lambda: _true(*consumer.delete_batch(ids[2:4])),
                "archive_batch": lambda: _true(*consumer.archive_batch(ids[4:5])),
                "release": lambda: _true(consumer.release(ids[5])),
                "dead-letter on dequeue": lambda: _dead_letter(strict),
                "close": consumer.close,
                "install (current schema)": consumer_admin.install,
                # The archive counts it keeps up to date are readable to it: so are the metrics.
                "queue_metrics": lambda: consumer_admin.queue_metrics("jobs"),
            },
            denied={
                "enqueue": lambda: producer.enqueue({"n": "x"}),
                "create_queue": lambda: consumer_admin.create_queue("other"),
                "purge_archive": lambda: consumer_admin.purge_archive("jobs"),
                "remove_stale_workers": lambda: consumer_admin.remove_stale_workers(0),
                "uninstall": consumer_admin.uninstall,
            },
        )
    metrics = admin.queue_metrics("jobs")
    assert metrics.archived_count >= 3 and metrics.dead_letter_count >= 1
    figures.update(role="pgqrs_consumer", **outcome)


def _true(*results: bool) -> None:
    assert all(results), results


def _dead_letter(strict: pgqrs.Consumer) -> None:
    """Dequeue with max_read_count=1 until a message delivered once is buried in the archive."""
    first = strict.dequeue(lock_time=0)
    assert first is not None
    strict.dequeue_batch(10, lock_time=60)


def test_observer_role(
    admin: pgqrs.PgqrsAdmin, logins: dict[str, str], jobs: pgqrs.QueueInfo, figures: dict[str, Any]
) -> None:
    with _as(logins["observer"], admin) as observer_admin:
        producer = pgqrs.Producer(observer_admin.pool, jobs, observer_admin.config)
        consumer = pgqrs.Consumer(observer_admin.pool, jobs, observer_admin.config)
        outcome = _check(
            allowed={
                "queue_metrics": lambda: observer_admin.queue_metrics("jobs"),
                "all_queues_metrics": observer_admin.all_queues_metrics,
                "list_queues": observer_admin.list_queues,
                "get_queue": lambda: observer_admin.get_queue("jobs"),
                "list_workers": observer_admin.list_workers,
                "verify": observer_admin.verify,
                "install (current schema)": observer_admin.install,
            },
            denied={
                "enqueue": lambda: producer.enqueue({"n": "x"}),
                "dequeue": consumer.dequeue,
                "read payloads (messages)": lambda: observer_admin.messages.filter_by_fk(jobs.id),
                "read payloads (archive)": lambda: observer_admin.archive.filter_by_fk(jobs.id),
                "create_queue": lambda: observer_admin.create_queue("other"),
                "purge_queue": lambda: observer_admin.purge_queue("jobs"),
                "uninstall": observer_admin.uninstall,
            },
        )
        assert observer_admin.queue_metrics("jobs").total_messages == 10
    figures.update(role="pgqrs_observer", **outcome)


def test_schedules_by_role(
    admin: pgqrs.PgqrsAdmin, logins: dict[str, str], jobs: pgqrs.QueueInfo, raw: Any, figures: dict[str, Any]
) -> None:
    """A runtime enqueues ticks as a producer; a consumer alone may not (its scheduler stops, its
    handlers work on); the observer lists schedules; adding and removing is the owner's."""
    minute = (admin.schedules.due()[0].minute + 30) % 60
    admin.add_schedule(pgqrs.Schedule("hourly", "jobs", cron=f"{minute} * * * *"))
    raw.execute(f"UPDATE \"{admin.schema}\".pgqrs_schedules SET last_tick_at = now() - interval '5 hours'")
    other = pgqrs.Schedule("other", "jobs", every=60)
    with (
        _as(logins["producer"], admin) as producer_admin,
        _as(logins["consumer"], admin) as consumer_admin,
        _as(logins["observer"], admin) as observer_admin,
    ):
        outcome = _check(
            allowed={
                "producer: run_once": lambda: scheduler.Scheduler(producer_admin.schedules).run_once(),
                "observer: list_schedules": observer_admin.list_schedules,
                "consumer: scheduler stops": scheduler.Scheduler(consumer_admin.schedules).run,
            },
            denied={
                "consumer: run_once": lambda: scheduler.Scheduler(consumer_admin.schedules).run_once(),
                "producer: add_schedule": lambda: producer_admin.add_schedule(other),
                "producer: remove_schedule": lambda: producer_admin.remove_schedule("hourly"),
                "observer: add_schedule": lambda: observer_admin.add_schedule(other),
            },
        )
    assert admin.messages.count_by_fk(jobs.id) == 11  # the ten of the fixture and the tick's
    assert [schedule.name for schedule in admin.list_schedules()] == ["hourly"]
    figures.update(role="schedules", **outcome)


def test_roles_sql_composes_names_safely() -> None:
    script = roles.roles_sql("my_schema")
    assert 'CREATE ROLE "pgqrs_producer" NOLOGIN' in script
    assert 'ON "my_schema".pgqrs_messages' in script and "{" not in script
    assert roles.role_names("app") == {
        "producer": "app_producer",
        "consumer": "app_consumer",
        "observer": "app_observer",
    }
    for bad in ['x"; DROP ROLE postgres; --', "pg_evil", "a" * 55, "", "r\u00f4le"]:
        with pytest.raises(errors.ValidationError):
            roles.roles_sql("public", prefix=bad)
        with pytest.raises(errors.ValidationError):
            roles.roles_sql(bad if bad != "a" * 55 else "b" * 64)
