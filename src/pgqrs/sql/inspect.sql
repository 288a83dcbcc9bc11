-- Read-only views for dashboards and monitoring (pgqrs.serve through the Inspector). Each reads
-- a bounded number of rows whatever the backlog: counts stop at `cap` (a LIMIT inside), pages
-- are ranges of an index after a key, throughput reads the last hour's index range. None reads
-- a payload except the *_payloads queries (the observer role may not: see roles.sql).

-- name: inspect_queues :many
-- Per queue: pending, in flight and delayed counted up to cap + 1 (more means "over cap"); when
-- the longest-visible pending message became visible (min(vt): the first entry of the dequeue
-- index range); the archive's counts as kept (pgqrs_archive_counts); the database's now().
-- In flight goes through the queue's workers and their leases (the worker_id index): a queue's
-- delayed backlog is never walked to find the few leased rows among it.
SELECT q.id, q.queue_name,
       (SELECT count(*) FROM (
            SELECT FROM {schema}.pgqrs_messages m WHERE m.queue_id = q.id AND m.vt <= now()
            LIMIT %(cap)s + 1) pending),
       (SELECT count(*) FROM (
            SELECT FROM {schema}.pgqrs_workers w
            JOIN {schema}.pgqrs_messages m ON m.worker_id = w.id
            WHERE w.queue_id = q.id AND m.vt > now()
            LIMIT %(cap)s + 1) in_flight),
       (SELECT count(*) FROM (
            SELECT FROM {schema}.pgqrs_messages m
            WHERE m.queue_id = q.id AND m.vt > now() AND m.worker_id IS NULL
            LIMIT %(cap)s + 1) delayed),
       (SELECT min(m.vt) FROM {schema}.pgqrs_messages m WHERE m.queue_id = q.id AND m.vt <= now()),
       coalesce(counts.archived, 0)::bigint, coalesce(counts.dead_letters, 0)::bigint,
       now()
FROM {schema}.pgqrs_queues q
LEFT JOIN LATERAL (
    SELECT sum(archived) AS archived, sum(dead_letters) AS dead_letters
    FROM {schema}.pgqrs_archive_counts c WHERE c.queue_id = q.id
) counts ON true
WHERE %(queue_name)s::text IS NULL OR q.queue_name = %(queue_name)s::text
ORDER BY q.queue_name;

-- name: inspect_throughput :many
-- Archive records per queue and minute since `since` (a minute boundary): processed, and of
-- them dead letters. One range of pgqrs_archive_archived_at_idx per queue: the last hour's
-- records, never the whole archive. Messages acknowledged by deletion leave no record.
SELECT q.id, per_minute.minute, per_minute.archived, per_minute.dead_letters
FROM {schema}.pgqrs_queues q
CROSS JOIN LATERAL (
    SELECT date_trunc('minute', a.archived_at) AS minute, count(*) AS archived,
           count(*) FILTER (WHERE a.dead_letter_reason IS NOT NULL) AS dead_letters
    FROM {schema}.pgqrs_archive a
    WHERE a.queue_id = q.id AND a.archived_at >= %(since)s
    GROUP BY 1
) per_minute
ORDER BY q.id, per_minute.minute;

-- name: inspect_clock :one
SELECT now();

-- name: inspect_messages_all :many
-- A queue's messages in visibility order (vt, id), the page after (after_vt, after_id): a range
-- of pgqrs_messages_dequeue_idx. Here and below: no payload (see inspect_message_payloads).
SELECT id, enqueued_at, vt, read_ct, dequeued_at, worker_id, last_error
FROM {schema}.pgqrs_messages
WHERE queue_id = %(queue_id)s AND (vt, id) > (%(after_vt)s::timestamptz, %(after_id)s::bigint)
ORDER BY vt, id LIMIT %(limit)s;

-- name: inspect_messages_pending :many
SELECT id, enqueued_at, vt, read_ct, dequeued_at, worker_id, last_error
FROM {schema}.pgqrs_messages
WHERE queue_id = %(queue_id)s AND (vt, id) > (%(after_vt)s::timestamptz, %(after_id)s::bigint)
  AND vt <= now()
ORDER BY vt, id LIMIT %(limit)s;

-- name: inspect_messages_delayed :many
-- Not visible yet and held by nobody: the range after now(); the few leased rows in it are
-- skipped as they come.
SELECT id, enqueued_at, vt, read_ct, dequeued_at, worker_id, last_error
FROM {schema}.pgqrs_messages
WHERE queue_id = %(queue_id)s
  AND (vt, id) > (greatest(%(after_vt)s::timestamptz, now()), %(after_id)s::bigint)
  AND worker_id IS NULL
ORDER BY vt, id LIMIT %(limit)s;

-- name: inspect_messages_in_flight :many
-- Leased and not expired: through the queue's workers and the worker_id index (see
-- inspect_queues), then in visibility order.
SELECT m.id, m.enqueued_at, m.vt, m.read_ct, m.dequeued_at, m.worker_id, m.last_error
FROM {schema}.pgqrs_workers w
JOIN {schema}.pgqrs_messages m ON m.worker_id = w.id
WHERE w.queue_id = %(queue_id)s AND m.vt > now()
  AND (m.vt, m.id) > (%(after_vt)s::timestamptz, %(after_id)s::bigint)
ORDER BY m.vt, m.id LIMIT %(limit)s;

-- name: inspect_message_payloads :many
-- Payloads of a page's messages, cut to `chars` characters of their JSON text.
SELECT id, left(payload::text, %(chars)s) FROM {schema}.pgqrs_messages WHERE id = ANY(%(ids)s::bigint[]);

-- name: inspect_archive :many
-- A queue's archive newest first, the page before `before_id`: a range of pgqrs_archive_queue_id_idx.
SELECT id, original_msg_id, enqueued_at, dequeued_at, read_ct, archived_at, processing_duration,
       worker_id, dead_letter_reason, last_error
FROM {schema}.pgqrs_archive
WHERE queue_id = %(queue_id)s AND id < %(before_id)s
ORDER BY id DESC LIMIT %(limit)s;

-- name: inspect_dead_letters :many
-- inspect_archive for dead letters only: a range of pgqrs_archive_dead_letters_idx.
SELECT id, original_msg_id, enqueued_at, dequeued_at, read_ct, archived_at, processing_duration,
       worker_id, dead_letter_reason, last_error
FROM {schema}.pgqrs_archive
WHERE queue_id = %(queue_id)s AND id < %(before_id)s AND dead_letter_reason IS NOT NULL
ORDER BY id DESC LIMIT %(limit)s;

-- name: inspect_archive_payloads :many
SELECT id, left(payload::text, %(chars)s) FROM {schema}.pgqrs_archive WHERE id = ANY(%(ids)s::bigint[]);

-- name: inspect_workers :many
-- Workers, live ones first, with the leases each holds (not expired; the worker_id index).
SELECT w.id, w.queue_id, q.queue_name, w.hostname, w.pid, w.started_at, w.heartbeat_at, w.status,
       (SELECT count(*) FROM {schema}.pgqrs_messages m WHERE m.worker_id = w.id AND m.vt > now()),
       now()
FROM {schema}.pgqrs_workers w
JOIN {schema}.pgqrs_queues q ON q.id = w.queue_id
ORDER BY w.status, w.heartbeat_at DESC, w.id DESC
LIMIT %(limit)s;

-- name: inspect_worker_counts :many
-- Workers per queue and state: running (a heartbeat within `stale_after` seconds), stale
-- (running, but silent longer), stopped.
SELECT q.queue_name,
       CASE WHEN w.status <> 'running' THEN w.status
            WHEN w.heartbeat_at < now() - make_interval(secs => %(stale_after)s) THEN 'stale'
            ELSE 'running' END AS state,
       count(*)
FROM {schema}.pgqrs_workers w
JOIN {schema}.pgqrs_queues q ON q.id = w.queue_id
GROUP BY 1, 2
ORDER BY 1, 2;

-- name: inspect_payload_access :one
-- Whether this login may read payloads (the observer role may not).
SELECT has_column_privilege(format('%%I.pgqrs_messages', %(schema)s::text), 'payload', 'SELECT')
   AND has_column_privilege(format('%%I.pgqrs_archive', %(schema)s::text), 'payload', 'SELECT');
