"""PgqrsAdmin: schema management, queues, metrics and workers."""

from __future__ import annotations

import logging
import types
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from pgqrs import _dsn, _migrations, _queries, _schema_spec, _validation, errors, models, roles, schedules
from pgqrs import config as config_module
from pgqrs._async import _database, consumer, dedup_keys, producer, retention, schedule_table, tables

logger = logging.getLogger("pgqrs")


class PgqrsAdmin:
    """Entry point: owns the connection pool and manages the pgqrs schema and queues.

    Build one with ``await PgqrsAdmin.connect(config)`` and close it with ``await admin.close()``
    or ``async with``. ``admin.queues``, ``.workers``, ``.messages`` and ``.archive`` are the
    table APIs on the same pool and schema.
    """

    def __init__(self, pool: AsyncConnectionPool, config: config_module.Config) -> None:
        self.pool = pool
        self.config = config
        self.schema = config.schema
        # The config's timeout, also on a pool the caller made (whose own timeout may differ).
        timeout = config.connection_timeout_seconds
        self._database = _database.Database(pool, self.schema, timeout)
        self.queues = tables.PgqrsQueues(pool, self.schema, timeout=timeout)
        self.workers = tables.PgqrsWorkers(pool, self.schema, timeout=timeout)
        self.messages = tables.PgqrsMessages(pool, self.schema, config.max_payload_bytes, timeout=timeout)
        self.archive = tables.PgqrsArchiveTable(pool, self.schema, config.max_payload_bytes, timeout=timeout)
        self.schedules = schedule_table.PgqrsSchedules(
            pool, self.schema, config.max_payload_bytes, timeout=timeout
        )
        self.retention = retention.Retention(self._database)
        self.dedup_keys = dedup_keys.PgqrsDedupKeys(pool, self.schema, timeout=timeout)

    @classmethod
    async def connect(cls, config: config_module.Config) -> PgqrsAdmin:
        """Open a connection pool for `config` and return an admin that owns it.

        Raises:
            DatabaseError: The server cannot be reached within connection_timeout_seconds, or
                refused the connection (the reason is given; the password never is).
        """
        dsn = _dsn.resolve(config.dsn)
        return cls(await _database.open_pool(config, dsn), config)

    async def close(self) -> None:
        """Close the pool and every connection in it."""
        await self.pool.close()

    async def __aenter__(self) -> PgqrsAdmin:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        await self.close()

    # Schema management ---------------------------------------------------------------------

    async def install(self) -> None:
        """Bring the pgqrs tables in the configured schema to this version (see `migrate`).

        Cheap to call at every start: on a current schema it reads the version and returns,
        taking no lock on any table and running no DDL. With ``archive_partitioning: daily`` it
        puts an empty archive on day partitions, and creates the coming days' partitions.

        Raises:
            SchemaError: The schema does not exist (the message gives the CREATE SCHEMA fix),
                or the installed schema is newer than this version of pgqrs, or daily
                partitioning is asked of an archive that holds records.
        """
        await self.migrate()
        if self.config.archive_partitioning == "daily" and not await self.retention.partition_by_day():
            try:
                await self.retention.partition_ahead()
            except errors.PermissionDenied as denied:
                # A runtime under a role that does not own the archive still starts: its archive
                # writes go to the default partition until the owner's runtime makes the days.
                logger.info("archive partitions not created ahead by this role (%s)", denied)

    async def schema_version(self) -> int | None:
        """Return the pgqrs schema version installed in the schema, or None when not installed.

        Raises:
            SchemaError: The schema does not exist.
        """
        row = await self._database.fetch_one("admin_schema_state", {"schema": self.schema})
        schema_exists, installed = row if row is not None else (False, False)
        if not schema_exists:
            raise errors.SchemaError(
                f"schema {self.schema!r} does not exist; create it first: "
                f"CREATE SCHEMA IF NOT EXISTS {_queries.compose('{schema}', self.schema).decode()};"
            )
        return await self._database.scalar("admin_schema_version") if installed else None

    async def migrate(self) -> list[int]:
        """Apply the pending numbered migrations; return the versions applied (none: current).

        Each migration runs in a transaction of its own under a transaction-scoped advisory
        lock, so concurrent callers take turns and each migration is applied exactly once.
        `migration_sql` gives the same SQL as text.

        Raises:
            SchemaError: The schema does not exist, or is newer than this pgqrs.
        """
        current = await self.schema_version()
        self._refuse_newer(current)
        applied = []
        for migration in _migrations.pending(current):
            if await self._apply(migration):
                applied.append(migration.version)
        return applied

    async def migration_sql(self) -> str:
        """Return the SQL `migrate` would run on this schema now (empty when it is current)."""
        current = await self.schema_version()
        self._refuse_newer(current)
        return _migrations.script(self.schema, current)

    def _refuse_newer(self, current: int | None) -> None:
        latest = _migrations.latest_version()
        if current is not None and current > latest:
            raise errors.SchemaError(
                f"schema {self.schema!r} holds pgqrs schema version {current}, newer than this "
                f"pgqrs ({latest}); upgrade pgqrs"
            )

    async def _apply(self, migration: _migrations.Migration) -> bool:
        """Apply one migration unless another process did while we waited for the lock."""
        async with self._database.connection() as connection, connection.transaction():
            await connection.execute(self._database.sql("admin_install_lock"), {"schema": self.schema})
            if await self._locked_version(connection) >= migration.version:
                return False
            await connection.execute(_migrations.compose(migration, self.schema))
            await connection.execute(
                self._database.sql("admin_record_version"), {"version": migration.version}
            )
        return True

    async def _locked_version(self, connection: AsyncConnection[Any]) -> int:
        """Return the recorded version (0: none) as seen inside the migration's transaction."""
        cursor = await connection.execute(self._database.sql("admin_schema_state"), {"schema": self.schema})
        state = await cursor.fetchone()
        if state is None or not state[1]:
            return 0
        cursor = await connection.execute(self._database.sql("admin_schema_version"))
        row = await cursor.fetchone()
        return int(row[0]) if row is not None and row[0] is not None else 0

    async def verify(self) -> None:
        """Check that every pgqrs table, column, index and constraint is present and as expected.

        Raises:
            SchemaError: With `.problems` listing exactly what is missing or different.
        """
        params = {"schema": self.schema}
        if not await self._database.scalar("admin_schema_exists", params):
            raise errors.SchemaError(problems=[f"schema {self.schema!r} does not exist"])
        relations = await self._database.fetch("admin_relations", params)
        columns = await self._database.fetch("admin_columns", params)
        version = None
        if ("table", "pgqrs_schema_version", None) in relations:
            version = await self._database.scalar("admin_schema_version")
        problems = _schema_spec.problems(self.schema, columns, relations, version)
        if problems:
            raise errors.SchemaError(problems=problems)

    def roles_sql(self, prefix: str = roles.DEFAULT_PREFIX) -> str:
        """Return the SQL creating the least-privilege roles ``<prefix>_producer``, ``_consumer``
        and ``_observer`` with their grants on this schema (see `install_roles`)."""
        return roles.roles_sql(self.schema, prefix)

    async def install_roles(self, prefix: str = roles.DEFAULT_PREFIX) -> None:
        """Create (or refresh) the least-privilege group roles and their grants on this schema.

        Run it as the tables' owner after `install`; grant the roles to application logins.
        """
        script = roles.roles_sql(self.schema, prefix).encode()
        async with self._database.connection() as connection, connection.transaction():
            await connection.execute(script)

    async def uninstall(self) -> None:
        """Drop the pgqrs tables (and so every queue and message); other objects are untouched."""
        async with self._database.connection() as connection, connection.transaction():
            await connection.execute(self._database.sql("admin_install_lock"), {"schema": self.schema})
            await connection.execute(self._database.sql("admin_uninstall"))

    # Queues --------------------------------------------------------------------------------

    async def create_queue(
        self, name: str, exist_ok: bool = False, *, dedup_window: Any = 0
    ) -> models.QueueInfo:
        """Create a queue and return it (or return the existing one, as it is, when `exist_ok`).

        Args:
            name: The queue's name.
            exist_ok: Return an existing queue of that name instead of raising.
            dedup_window: How long (timedelta or seconds) the dedup key of an acknowledged
                message stays reserved: a retried enqueue of the key within it writes nothing
                and returns the original message's id. 0 (the default): the key is free again
                once its message is acknowledged. See `set_dedup_window`.

        Raises:
            QueueAlreadyExists: A queue with this name exists (and not `exist_ok`).
            ValidationError: The name is not a valid queue name.
        """
        try:
            return await self.queues.insert(models.NewQueue(name, dedup_window))
        except errors.QueueAlreadyExists:
            if not exist_ok:
                raise
        return await self.get_queue(name)

    async def set_dedup_window(self, name: str, window: Any) -> models.QueueInfo:
        """Set a queue's dedup window (see `create_queue`); every producer and consumer applies
        it from their next statement. Keys acknowledged before keep the expiry they got.

        Raises:
            QueueNotFound: No such queue.
            ValidationError: `window` is not a non-negative timedelta or number of seconds.
        """
        return await self.queues.set_dedup_window(_validation.queue_name(name), window)

    async def get_queue(self, name: str) -> models.QueueInfo:
        """Return the queue named `name`.

        Raises:
            QueueNotFound: No such queue.
        """
        return await self.queues.get_by_name(_validation.queue_name(name))

    async def list_queues(self) -> list[models.QueueInfo]:
        """Return every queue, oldest first."""
        return await self.queues.list()

    async def delete_queue(self, name: str) -> None:
        """Delete a queue together with its archive and worker records.

        Raises:
            QueueNotFound: No such queue.
            QueueNotEmpty: It still holds messages; purge_queue() first.
        """
        queue = await self.get_queue(name)
        try:
            deleted = await self.queues.delete(queue.id)
        except errors.QueueNotEmpty as error:
            raise errors.QueueNotEmpty(name, error.count) from None
        if not deleted:
            raise errors.QueueNotFound(name)

    async def purge_queue(self, name: str) -> int:
        """Delete every message of a queue, leased or not; return how many."""
        return await self.messages.purge((await self.get_queue(name)).id)

    async def purge_archive(
        self, queue: str | None = None, older_than: Any = None, *, dead_letters: bool = False
    ) -> int:
        """Delete archive records; return how many.

        Without `older_than`: every record of `queue`, dead letters included. With it (a
        timedelta, seconds, or text such as "7d"): the records archived longer ago than that,
        of `queue` or (None) of every queue, dead letters only when `dead_letters`; in batches
        of short transactions, whole day partitions at once on a partitioned archive.

        Raises:
            QueueNotFound: No such queue.
            ValidationError: Neither a queue nor `older_than`, or a bad duration.
        """
        if older_than is None:
            if queue is None:
                raise errors.ValidationError(
                    "invalid queue name None: purge_archive needs a queue, or older_than"
                )
            return await self.archive.purge((await self.get_queue(queue)).id)
        seconds = _validation.duration(older_than, "older_than")
        queue_ids = None if queue is None else [(await self.get_queue(queue)).id]
        return await self.retention.purge(queue_ids, seconds, dead_letters)

    async def queue_metrics(self, name: str) -> models.QueueMetrics:
        """Return the counts of one queue.

        Raises:
            QueueNotFound: No such queue.
        """
        rows = await self._database.fetch("queue_metrics", {"queue_name": _validation.queue_name(name)})
        if not rows:
            raise errors.QueueNotFound(name)
        return models.QueueMetrics(*rows[0])

    async def all_queues_metrics(self) -> list[models.QueueMetrics]:
        """Return the counts of every queue, by name."""
        rows = await self._database.fetch("queue_metrics", {"queue_name": None})
        return [models.QueueMetrics(*row) for row in rows]

    # Dead letters --------------------------------------------------------------------------

    async def dead_letters(
        self, queue: str, limit: int = 100, after_id: int | None = None
    ) -> list[models.ArchivedMessage]:
        """Return a queue's dead letters (archive records) in id order, a page at a time.

        Args:
            queue: The queue's name.
            limit: The most records to return.
            after_id: Return records whose archive id is greater (the last id of the previous
                page); from the first when None.

        Raises:
            QueueNotFound: No such queue.
            ValidationError: `limit` is not a positive integer or `after_id` not an id.
        """
        limit = _validation.positive_int(limit, "limit")
        after = 0 if after_id is None else _validation.message_id(after_id)
        return await self.archive.dead_letters((await self.get_queue(queue)).id, limit, after)

    async def requeue_dead_letters(self, queue: str, ids: list[int] | None = None) -> dict[int, int]:
        """Put a queue's dead letters back on it as new messages, in one statement.

        Each becomes a new message (a new id), visible now, its delivery count reset and its
        `last_error` kept; its archive record is removed. Idle workers of the queue are woken.

        Args:
            queue: The queue's name.
            ids: Archive record ids (as `dead_letters` gives them); None: every dead letter of
                the queue. Ids that are not dead letters of this queue are left alone.

        Returns:
            {archive record id: new message id} for each dead letter requeued.

        Raises:
            QueueNotFound: No such queue.
            ValidationError: An id is not a valid id.
        """
        chosen = None if ids is None else _validation.message_ids(ids)
        return await self.archive.requeue((await self.get_queue(queue)).id, chosen)

    # Workers -------------------------------------------------------------------------------

    async def list_workers(self, queue: str | models.QueueInfo | None = None) -> list[models.WorkerInfo]:
        """Return the registered workers, of one queue (name or QueueInfo) or of all."""
        if queue is None:
            return await self.workers.list()
        queue_info = queue if isinstance(queue, models.QueueInfo) else await self.get_queue(queue)
        return await self.workers.filter_by_fk(queue_info.id)

    async def get_worker(self, id: int) -> models.WorkerInfo:
        """Return a worker by id.

        Raises:
            WorkerNotFound: No such worker.
        """
        return await self.workers.get(id)

    async def remove_stale_workers(self, older_than: Any) -> int:
        """Delete workers without a heartbeat for `older_than` (timedelta or seconds); return how many."""
        return await self.workers.remove_stale(_validation.seconds(older_than, "older_than"))

    # Periodic jobs -------------------------------------------------------------------------

    async def add_schedule(self, schedule: schedules.Schedule, replace: bool = False) -> models.ScheduleInfo:
        """Store a periodic job; every runtime on this schema enqueues its ticks from then on.

        Args:
            schedule: What to enqueue where and when (validated when it was made).
            replace: Redefine the schedule of the same name, if any (its recorded ticks stay).

        Raises:
            ScheduleAlreadyExists: The name is taken (and not `replace`).
            QueueNotFound: The schedule's queue does not exist.
        """
        queue = await self.get_queue(schedule.queue)
        return await self.schedules.insert(schedule, queue.id, replace)

    async def list_schedules(self) -> list[models.ScheduleInfo]:
        """Return every periodic job, by name."""
        return await self.schedules.list()

    async def get_schedule(self, name: str) -> models.ScheduleInfo:
        """Return the periodic job named `name`.

        Raises:
            ScheduleNotFound: No such schedule.
        """
        return await self.schedules.get_by_name(name)

    async def remove_schedule(self, name: str) -> None:
        """Delete the periodic job named `name` (messages it enqueued stay on their queue).

        Raises:
            ScheduleNotFound: No such schedule.
        """
        if not await self.schedules.delete_by_name(name):
            raise errors.ScheduleNotFound(name)

    # Convenience ---------------------------------------------------------------------------

    async def producer(self, queue_name: str) -> producer.Producer:
        """Return a Producer for the named queue on this admin's pool."""
        return producer.Producer(self.pool, await self.get_queue(queue_name), self.config)

    async def consumer(self, queue_name: str) -> consumer.Consumer:
        """Return a Consumer for the named queue on this admin's pool."""
        return consumer.Consumer(self.pool, await self.get_queue(queue_name), self.config)
