-- Queries on pgqrs_workers. Columns in WorkerInfo order.

-- name: worker_insert :one
INSERT INTO {schema}.pgqrs_workers (queue_id, hostname, pid)
VALUES (%(queue_id)s, %(hostname)s, %(pid)s)
RETURNING id, queue_id, hostname, pid, started_at, heartbeat_at, status;

-- name: worker_get :one
SELECT id, queue_id, hostname, pid, started_at, heartbeat_at, status
FROM {schema}.pgqrs_workers WHERE id = %(id)s;

-- name: worker_list :many
SELECT id, queue_id, hostname, pid, started_at, heartbeat_at, status
FROM {schema}.pgqrs_workers ORDER BY id;

-- name: worker_filter_by_queue :many
SELECT id, queue_id, hostname, pid, started_at, heartbeat_at, status
FROM {schema}.pgqrs_workers WHERE queue_id = %(queue_id)s ORDER BY id;

-- name: worker_count :one
SELECT count(*) FROM {schema}.pgqrs_workers;

-- name: worker_count_by_queue :one
SELECT count(*) FROM {schema}.pgqrs_workers WHERE queue_id = %(queue_id)s;

-- name: worker_delete :one
WITH deleted AS (DELETE FROM {schema}.pgqrs_workers WHERE id = %(id)s RETURNING id)
SELECT count(*) FROM deleted;

-- name: worker_heartbeat :one
WITH touched AS (
    UPDATE {schema}.pgqrs_workers SET heartbeat_at = now(), status = 'running'
    WHERE id = %(id)s RETURNING id
)
SELECT count(*) FROM touched;

-- name: worker_stop :one
WITH stopped AS (
    UPDATE {schema}.pgqrs_workers SET status = 'stopped', heartbeat_at = now()
    WHERE id = %(id)s RETURNING id
)
SELECT count(*) FROM stopped;

-- name: worker_remove_stale :one
-- Stale: no heartbeat for `older_than` seconds of database time, whatever the status, and no
-- lease that has not expired (a worker busy with a long job is alive, whatever its heartbeat).
WITH removed AS (
    DELETE FROM {schema}.pgqrs_workers w
    WHERE w.heartbeat_at < now() - make_interval(secs => %(older_than)s)
      AND NOT EXISTS (
          SELECT FROM {schema}.pgqrs_messages m WHERE m.worker_id = w.id AND m.vt > now()
      )
    RETURNING w.id
)
SELECT count(*) FROM removed;

-- name: worker_reap :one
-- The runtime's clean-up: remove_stale by one elected process at a time (a transaction-scoped
-- lock, released at the end of this statement: safe behind PgBouncer); the others skip.
-- Returns whether this process was elected, and how many workers it removed.
WITH elected AS (
    SELECT pg_try_advisory_xact_lock(hashtextextended('pgqrs reaper ' || %(schema)s, 0)) AS leader
), removed AS (
    DELETE FROM {schema}.pgqrs_workers w
    WHERE (SELECT leader FROM elected)
      AND w.heartbeat_at < now() - make_interval(secs => %(older_than)s)
      AND NOT EXISTS (
          SELECT FROM {schema}.pgqrs_messages m WHERE m.worker_id = w.id AND m.vt > now()
      )
    RETURNING w.id
)
SELECT (SELECT leader FROM elected), (SELECT count(*) FROM removed);
