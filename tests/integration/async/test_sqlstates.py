"""`connection_lost` says the connection was lost, and only then is the pool checked.

The server raises each error for real: a trigger on pgqrs_messages raises the SQLSTATE under
test (or takes a row lock with NOWAIT that another session holds), and other sessions cancel or
terminate the backend of a call blocked on a lock.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

import pgqrs
from tests import support
from tests.reliability import harness

# How the trigger fails, the SQLSTATE the call gets, and what that says of the connection:
# "answered" (it is fine), "read_only" (usable no more: discarded) or "gone" (the outcome is
# unknown; the pool is checked). An 08006 on an open connection is how a pooler reports the
# loss of its server connection.
FAILURES: dict[str, tuple[str, str, str]] = {
    "query_canceled": ("RAISE EXCEPTION 'injected' USING ERRCODE = '57014'", "57014", "answered"),
    "deadlock_detected": ("RAISE EXCEPTION 'injected' USING ERRCODE = '40P01'", "40P01", "answered"),
    "serialization_failure": ("RAISE EXCEPTION 'injected' USING ERRCODE = '40001'", "40001", "answered"),
    "lock_not_available": (
        "PERFORM 1 FROM {schema}.pgqrs_queues WHERE id = NEW.queue_id FOR UPDATE NOWAIT",
        "55P03",
        "answered",
    ),
    "read_only_sql_transaction": ("RAISE EXCEPTION 'injected' USING ERRCODE = '25006'", "25006", "read_only"),
    "connection_failure": ("RAISE EXCEPTION 'injected' USING ERRCODE = '08006'", "08006", "gone"),
}


class CountingPool(AsyncConnectionPool):
    """A caller's pool that counts the checks of its idle connections pgqrs asks for."""

    checks = 0

    async def check(self) -> None:
        self.checks += 1
        await super().check()


@pytest.fixture
async def pool(config: pgqrs.Config) -> AsyncIterator[CountingPool]:
    """Return a caller's pool of one autocommit connection, counting its checks."""
    counting = CountingPool(config.dsn, min_size=1, max_size=1, kwargs={"autocommit": True}, open=False)
    await counting.open(wait=True)
    yield counting
    await counting.close()


def fail_inserts(connection: psycopg.Connection[tuple[object, ...]], schema: str, body: str) -> None:
    """Make every insert into the schema's pgqrs_messages run `body` first."""
    quoted = f'"{schema}"'
    connection.execute(
        f"CREATE FUNCTION {quoted}.fail() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN {body.format(schema=quoted)}; RETURN NEW; END $$"
    )
    connection.execute(
        f"CREATE TRIGGER fail BEFORE INSERT ON {quoted}.pgqrs_messages "
        f"FOR EACH ROW EXECUTE FUNCTION {quoted}.fail()"
    )


@pytest.mark.parametrize("failure", list(FAILURES))
async def test_server_errors_are_lost_connections_only_when_they_say_so(
    admin: pgqrs.PgqrsAdmin,
    queue: pgqrs.QueueInfo,
    pool: CountingPool,
    raw: psycopg.Connection[tuple[object, ...]],
    dsn: str,
    schema: str,
    failure: str,
) -> None:
    body, sqlstate, outcome = FAILURES[failure]
    fail_inserts(raw, schema, body)
    producer = pgqrs.Producer(pool, queue, admin.config)
    with support.connect(harness.derive_direct_dsn(dsn)) as holder, holder.transaction():
        # The row lock the NOWAIT trigger runs into (harmless for the other cases).
        holder.execute(f'SELECT 1 FROM "{schema}".pgqrs_queues WHERE id = %s FOR UPDATE', (queue.id,))
        with pytest.raises(pgqrs.DatabaseError) as caught:
            await producer.enqueue({"n": 1})
    error = caught.value
    assert (error.sqlstate, error.connection_lost) == (sqlstate, outcome != "answered")
    assert not isinstance(error, pgqrs.errors.CallTimedOut)
    # Only a lost connection leaves the outcome unknown, and checks the pool's idle connections.
    assert isinstance(error, pgqrs.OutcomeUnknown) == (outcome == "gone")
    assert pool.checks == (1 if outcome == "gone" else 0)
    # A connection that cannot be trusted is discarded, even if still open; the others are kept.
    assert pool.get_stats().get("returns_bad", 0) == (0 if outcome == "answered" else 1)
    raw.execute(f'DROP TRIGGER fail ON "{schema}".pgqrs_messages')
    assert (await producer.enqueue({"n": 2})).payload == {"n": 2}


def signal_blocked_backend(dsn: str, schema: str, function: str) -> None:
    """Wait for a backend blocked on a lock in the schema, then cancel or terminate it."""
    query = (
        f"SELECT {function}(pid) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
        "AND state = 'active' AND position(%s in query) > 0"
    )
    direct = harness.derive_direct_dsn(dsn)

    def signalled() -> bool:
        with support.connect(direct) as connection:
            return bool(connection.execute(query, (f'"{schema}".',)).fetchall())

    harness.wait_until(signalled, 30, "a blocked call")


@pytest.mark.parametrize("function", ["pg_cancel_backend", "pg_terminate_backend"])
async def test_a_call_whose_backend_is_signalled(
    admin: pgqrs.PgqrsAdmin, queue: pgqrs.QueueInfo, pool: CountingPool, dsn: str, schema: str, function: str
) -> None:
    producer = pgqrs.Producer(pool, queue, admin.config)
    with support.connect(harness.derive_direct_dsn(dsn)) as locker, locker.transaction():
        locker.execute(f'LOCK TABLE "{schema}".pgqrs_messages IN ACCESS EXCLUSIVE MODE')
        helper = threading.Thread(target=signal_blocked_backend, args=(dsn, schema, function), daemon=True)
        helper.start()
        with pytest.raises(pgqrs.DatabaseError) as caught:
            await producer.enqueue({"n": 1})
        helper.join(30)
    error = caught.value
    if function == "pg_cancel_backend":
        # Cancelled by someone else, not by the deadline: the statement did not happen.
        assert (error.sqlstate, error.connection_lost, pool.checks) == ("57014", False, 0)
        assert not isinstance(error, (pgqrs.OutcomeUnknown, pgqrs.errors.CallTimedOut))
    else:
        assert isinstance(error, pgqrs.OutcomeUnknown)
        assert error.connection_lost
        assert pool.checks == 1
    assert (await producer.enqueue({"n": 2})).payload == {"n": 2}  # on a new connection if need be
