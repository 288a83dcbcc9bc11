"""Run named queries on a pool: the only async code that talks to psycopg."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from psycopg import AsyncConnection, AsyncCursor
from psycopg.rows import tuple_row
from psycopg_pool import AsyncConnectionPool

from pgqrs import _connect, _queries, _translate, _validation, _watchdog, errors
from pgqrs import config as config_module
from pgqrs._async import _compat

Row = tuple[Any, ...]


class PooledConnection(AsyncConnection[Any]):
    """The connection class of pgqrs's pools: it keeps one cursor for pgqrs's calls.

    A cursor per statement builds a new adaptation context every time (dumpers for the
    parameters, loaders for the columns); one kept cursor reuses them, ~20 us of a ~370 us
    enqueue and ~3% of a batch dequeue and ack (measured). A pooled connection serves one call
    at a time, so one cursor is enough; it goes with its connection.
    """

    _pgqrs_cursor: AsyncCursor[Any] | None = None

    def pgqrs_cursor(self) -> AsyncCursor[Any]:
        """Return this connection's kept cursor (a new one if it was closed)."""
        cursor = self._pgqrs_cursor
        if cursor is None or cursor.closed:
            cursor = self._pgqrs_cursor = self.cursor()
        return cursor


def _drop_result(cursor: AsyncCursor[Any]) -> None:
    """Free libpq's copy of the rows just fetched (they are Python objects now).

    A kept cursor would otherwise hold its last result for as long as its connection idles in
    the pool: up to batch size x max_payload_bytes per connection (20 MB after a batch of 20
    payloads of 1 MB; 1 MB with this). Clearing adds ~0.06 us per call, as libpq's free only
    happens sooner; a cursor per call to the same end would add ~10 us (measured).
    """
    result = cursor.pgresult
    if result is not None:
        result.clear()


async def open_pool(config: config_module.Config, dsn: str) -> AsyncConnectionPool:
    """Open a pool for `dsn`, failing fast with the server's own reason when it cannot connect."""
    kwargs = _connect.connection_kwargs(config)
    timeout = config.connection_timeout_seconds
    with _translate.translate(dsn, config.schema, timeout):
        # One direct connection first: a wrong password or missing database is reported at
        # once with its reason, where a pool would only time out.
        probe = await AsyncConnection.connect(dsn, **kwargs)
        await probe.close()
        pool: AsyncConnectionPool = AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=config.max_connections,
            kwargs=kwargs,
            connection_class=PooledConnection,
            timeout=timeout,
            open=False,
            name="pgqrs",
        )
        await pool.open(wait=True, timeout=timeout)
    return pool


class Database:
    """Named-query executor bound to one pool and one schema."""

    def __init__(self, pool: AsyncConnectionPool, schema: str, timeout: float | None = None) -> None:
        self.pool = pool
        # QueueInfo is public and may be built by hand: check its schema before any SQL.
        self.schema = _validation.schema_name(schema)
        self._queries = _queries.for_schema(self.schema)
        # The caller's connection_timeout_seconds wins over the pool's own timeout: a caller's
        # pool keeps psycopg's 30 s while their Config asks for 1 s.
        self._timeout = float(pool.timeout if timeout is None else timeout)
        # The DSN only masks the password in error texts: pgqrs always gives the pool a string.
        dsn = pool.conninfo if isinstance(pool.conninfo, str) else ""
        self._translate = _translate.translate(dsn, self.schema, self._timeout)

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection[Any]]:
        """Yield a pooled connection under a deadline; errors inside are translated.

        A statement still running after connection_timeout_seconds is cancelled on the server
        and fails with `CallTimedOut` (see _watchdog); `OutcomeUnknown` if that cannot be done.
        """
        with self._translate:
            connection = await self.pool.getconn(self._timeout)
        call = _watchdog.arm(connection, self._timeout)
        try:
            yield connection
        except psycopg.Error as exc:
            raise await self._failed(exc, connection, _watchdog.disarm(call)) from exc
        except BaseException:
            await self._settle(connection, _watchdog.disarm(call))
            raise
        else:
            await self._settle(connection, _watchdog.disarm(call))
        finally:
            await self.pool.putconn(connection)

    async def _failed(
        self, exc: psycopg.Error, connection: AsyncConnection[Any], fired: _watchdog.Call | None
    ) -> errors.PgqrsError:
        """Return the pgqrs error for a failed statement, leaving the pool sound."""
        closed = connection.closed  # before _settle, which may close it on purpose
        await self._settle(connection, fired)
        error = self._translate.failed_call(exc, closed, fired)
        if isinstance(error, errors.DatabaseError) and error.connection_lost:
            # Not after a deadline: a check would hang on a frozen link as the call did.
            gone = isinstance(error, errors.OutcomeUnknown) and fired is None
            await self._recover(connection, check=gone)
        return error

    async def _settle(self, connection: AsyncConnection[Any], fired: _watchdog.Call | None) -> None:
        """Keep the connection of a call whose deadline passed only if its cancel was taken.

        A cancel still on its way would hit whatever statement runs next on this connection,
        someone else's call: wait (within the grace) for the server to take it, else close the
        connection, and the pool replaces it.
        """
        if fired is None:
            return
        assert fired.settled is not None
        await _compat.wait_thread_event(fired.settled, fired.deadline - time.monotonic())
        if (fired.shut_down or not fired.confirmed) and not connection.closed:
            await connection.close()

    async def _recover(self, connection: AsyncConnection[Any], check: bool) -> None:
        """After a lost connection: discard it, and maybe replace its idle siblings that died too."""
        if not connection.closed:
            # Open but unusable: it reached a read-only server, or a pooler reported the loss of
            # its server connection. The pool must not hand it out again.
            await connection.close()
        if check:
            # Other idle connections likely died with this one (server restart): replace them
            # now so the next call gets a working connection.
            with contextlib.suppress(Exception):
                await self.pool.check()

    def sql(self, name: str) -> bytes:
        """Return the composed text of a named query."""
        return self._queries[name].text

    async def fetch(self, name: str, params: dict[str, Any] | None = None) -> list[Row]:
        """Run a named query and return all its rows (none for statements without results).

        The hot path of every call: `connection()` inlined (one statement in autocommit needs
        no transaction block, and a context manager costs more than this does).
        """
        query = self._queries[name].text
        with self._translate:
            connection = await self.pool.getconn(self._timeout)
        call = _watchdog.arm(connection, self._timeout)
        try:
            # A pool made by the caller has plain connections: a cursor per call.
            if isinstance(connection, PooledConnection):
                cursor = connection.pgqrs_cursor()
            else:
                cursor = connection.cursor()
            await cursor.execute(query, params)
            # rownumber is None without a result set; `description` would build Column objects.
            rows = await cursor.fetchall() if cursor.rownumber is not None else []
            _drop_result(cursor)
            if not connection.autocommit:
                # A caller's pool may not use autocommit: the statement is still its own
                # transaction (the pool would roll it back on return).
                await connection.commit()
        except psycopg.Error as exc:
            raise await self._failed(exc, connection, _watchdog.disarm(call)) from exc
        except BaseException:
            await self._settle(connection, _watchdog.disarm(call))
            raise
        else:
            fired = _watchdog.disarm(call)
            if fired is not None:
                await self._settle(connection, fired)
        finally:
            await self.pool.putconn(connection)
        return rows

    async def fetch_on(
        self, connection: AsyncConnection[Any], name: str, params: dict[str, Any], prepare: bool
    ) -> list[Row]:
        """Run a named query on a caller's connection, in whatever transaction it is in.

        Nothing about the connection changes: no commit or rollback, no setting; a cursor of
        its own returns plain tuples whatever the connection's row factory. No watchdog either:
        the caller's connection is not pgqrs's to close (its own timeouts apply). `prepare`
        False never prepares the statement (behind a transaction pooler).
        """
        query = self._queries[name].text
        try:
            async with connection.cursor(row_factory=tuple_row) as cursor:
                await cursor.execute(query, params, prepare=None if prepare else False)
                return await cursor.fetchall() if cursor.rownumber is not None else []
        except psycopg.Error as exc:
            raise self._translate.failed_call(exc, connection.closed, None) from exc

    async def fetch_one(self, name: str, params: dict[str, Any] | None = None) -> Row | None:
        """Run a named query and return its first row, or None."""
        rows = await self.fetch(name, params)
        return rows[0] if rows else None

    async def scalar(self, name: str, params: dict[str, Any] | None = None) -> Any:
        """Run a named query and return the first column of its first row."""
        row = await self.fetch_one(name, params)
        return None if row is None else row[0]
