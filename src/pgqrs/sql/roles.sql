-- Least-privilege group roles for one pgqrs schema (pgqrs.roles.roles_sql fills the names in
-- with psycopg.sql.Identifier). Run it as the owner of the pgqrs tables (or a superuser) after
-- install, and again after every upgrade: it is idempotent, and it first revokes whatever the
-- three roles held on the pgqrs tables, so the result is always exactly the grants below.
--
--   All three read the schema version, so an application can call install() at every start
--   (on a current schema it only reads the version).
--   {producer}: get the queue, enqueue (INSERT ... RETURNING needs SELECT), postpone (vt).
--   {consumer}: get the queue, register and heartbeat, lease (pgqrs_dequeue), extend, release,
--               delete, archive, dead-letter (and count what it archives). It can read payloads
--               and delete messages (that is its job), so it could also purge a queue; it
--               cannot enqueue, touch queues, purge the archive or remove workers.
--   {observer}: metrics, queue and worker lists, verify, errors; no payloads (column privileges).
--   Periodic jobs: a runtime enqueues a schedule's ticks as a producer (it reads the schedules
--   and moves their last_tick_at); the observer lists them; adding and removing is the owner's.
--
-- The roles are NOLOGIN groups: grant them to your application's login roles, e.g.
--   GRANT {producer} TO web_app;  GRANT {consumer}, {producer} TO worker_app;

DO $pgqrs$ BEGIN CREATE ROLE {producer} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $pgqrs$;
DO $pgqrs$ BEGIN CREATE ROLE {consumer} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $pgqrs$;
DO $pgqrs$ BEGIN CREATE ROLE {observer} NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $pgqrs$;

REVOKE ALL ON {schema}.pgqrs_schema_version, {schema}.pgqrs_queues, {schema}.pgqrs_workers,
    {schema}.pgqrs_messages, {schema}.pgqrs_archive, {schema}.pgqrs_archive_counts,
    {schema}.pgqrs_schedules
    FROM {producer}, {consumer}, {observer};
GRANT USAGE ON SCHEMA {schema} TO {producer}, {consumer}, {observer};
GRANT SELECT ON {schema}.pgqrs_schema_version TO {producer}, {consumer}, {observer};
-- Functions run with the caller's privileges (SECURITY INVOKER): EXECUTE alone grants nothing.
REVOKE ALL ON FUNCTION {schema}.pgqrs_dequeue(bigint, bigint, integer, double precision, text)
    FROM PUBLIC, {producer}, {observer};
GRANT EXECUTE ON FUNCTION {schema}.pgqrs_dequeue(bigint, bigint, integer, double precision, text)
    TO {consumer};

-- Producer
GRANT SELECT ON {schema}.pgqrs_queues TO {producer};
GRANT SELECT, INSERT, UPDATE (vt) ON {schema}.pgqrs_messages TO {producer};
GRANT SELECT, UPDATE (last_tick_at) ON {schema}.pgqrs_schedules TO {producer};

-- Consumer
GRANT SELECT ON {schema}.pgqrs_queues TO {consumer};
GRANT SELECT, INSERT, UPDATE (heartbeat_at, status) ON {schema}.pgqrs_workers TO {consumer};
GRANT SELECT, UPDATE (vt, read_ct, dequeued_at, worker_id, last_error), DELETE
    ON {schema}.pgqrs_messages TO {consumer};
GRANT SELECT (original_msg_id), INSERT ON {schema}.pgqrs_archive TO {consumer};
GRANT SELECT, INSERT, UPDATE ON {schema}.pgqrs_archive_counts TO {consumer};

-- Observer
GRANT SELECT ON {schema}.pgqrs_queues, {schema}.pgqrs_workers, {schema}.pgqrs_archive_counts
    TO {observer};
GRANT SELECT (id, queue_id, enqueued_at, vt, read_ct, dequeued_at, worker_id, last_error, priority)
    ON {schema}.pgqrs_messages TO {observer};
GRANT SELECT (id, original_msg_id, queue_id, enqueued_at, dequeued_at, read_ct, archived_at,
              processing_duration, worker_id, dead_letter_reason, last_error)
    ON {schema}.pgqrs_archive TO {observer};
-- A schedule's payload is a definition the owner wrote, not data flowing through: all of it.
GRANT SELECT ON {schema}.pgqrs_schedules TO {observer};
