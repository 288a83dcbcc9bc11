-- Queries on pgqrs_queues. Columns in QueueInfo order: id, queue_name, created_at, then (after
-- QueueInfo.schema, which is no column) dedup_window.

-- name: queue_insert :one
-- ON CONFLICT keeps a duplicate name from raising mid-statement: no row back means "exists".
-- The dedup window arrives in seconds: make_interval(secs) is elapsed time (see message_dequeue).
INSERT INTO {schema}.pgqrs_queues (queue_name, dedup_window)
VALUES (%(queue_name)s, make_interval(secs => %(dedup_window)s))
ON CONFLICT (queue_name) DO NOTHING
RETURNING id, queue_name, created_at, dedup_window;

-- name: queue_set_dedup_window :one
-- Applies at once to every producer and consumer: the statements read it from this row.
UPDATE {schema}.pgqrs_queues SET dedup_window = make_interval(secs => %(dedup_window)s)
WHERE queue_name = %(queue_name)s
RETURNING id, queue_name, created_at, dedup_window;

-- name: queue_get :one
SELECT id, queue_name, created_at, dedup_window FROM {schema}.pgqrs_queues WHERE id = %(id)s;

-- name: queue_get_by_name :one
SELECT id, queue_name, created_at, dedup_window FROM {schema}.pgqrs_queues WHERE queue_name = %(queue_name)s;

-- name: queue_list :many
SELECT id, queue_name, created_at, dedup_window FROM {schema}.pgqrs_queues ORDER BY id;

-- name: queue_filter_by_id :many
SELECT id, queue_name, created_at, dedup_window FROM {schema}.pgqrs_queues WHERE id = %(id)s;

-- name: queue_count :one
SELECT count(*) FROM {schema}.pgqrs_queues;

-- name: queue_count_by_id :one
SELECT count(*) FROM {schema}.pgqrs_queues WHERE id = %(id)s;

-- name: queue_delete :one
-- Refuses (returns the pending count, deletes nothing) while messages remain; archive rows and
-- workers go with the queue (ON DELETE CASCADE). A message enqueued while this runs makes the
-- foreign key refuse the delete (23503): the caller reports that as "not empty" too.
WITH pending AS (
    SELECT count(*) AS messages FROM {schema}.pgqrs_messages WHERE queue_id = %(id)s
), deleted AS (
    DELETE FROM {schema}.pgqrs_queues
    WHERE id = %(id)s AND (SELECT messages FROM pending) = 0
    RETURNING id
)
SELECT (SELECT count(*) FROM deleted), (SELECT messages FROM pending),
       (SELECT queue_name FROM {schema}.pgqrs_queues WHERE id = %(id)s);

-- name: queue_metrics :many
-- One row per queue (or the one named). Every time comparison uses the database clock. Locked:
-- held by a worker and not expired; delayed: not visible yet and held by nobody. The archive's
-- counts come from pgqrs_archive_counts (kept by every statement that changes the archive).
SELECT q.queue_name,
       coalesce(m.total, 0), coalesce(m.pending, 0), coalesce(m.locked, 0), coalesce(m.delayed, 0),
       coalesce(a.archived, 0)::bigint, coalesce(a.dead, 0)::bigint,
       m.oldest_pending_at, m.newest_message_at
FROM {schema}.pgqrs_queues q
LEFT JOIN LATERAL (
    SELECT count(*) AS total,
           count(*) FILTER (WHERE vt <= now()) AS pending,
           count(*) FILTER (WHERE vt > now() AND worker_id IS NOT NULL) AS locked,
           count(*) FILTER (WHERE vt > now() AND worker_id IS NULL) AS delayed,
           min(enqueued_at) FILTER (WHERE vt <= now()) AS oldest_pending_at,
           max(enqueued_at) AS newest_message_at
    FROM {schema}.pgqrs_messages WHERE queue_id = q.id
) m ON true
LEFT JOIN LATERAL (
    SELECT sum(archived) AS archived, sum(dead_letters) AS dead
    FROM {schema}.pgqrs_archive_counts WHERE queue_id = q.id
) a ON true
WHERE %(queue_name)s::text IS NULL OR q.queue_name = %(queue_name)s::text
ORDER BY q.queue_name;
