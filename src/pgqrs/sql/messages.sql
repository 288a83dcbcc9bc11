-- Queries on pgqrs_messages. Columns in QueueMessage order:
-- id, queue_id, payload, enqueued_at, vt, read_ct, dequeued_at, worker_id, last_error, priority,
-- dedup_key.
-- Payloads arrive as JSON text (validated client-side) and are cast to jsonb here.

-- name: message_enqueue :one
INSERT INTO {schema}.pgqrs_messages (queue_id, payload, vt, priority)
VALUES (%(queue_id)s, %(payload)s::jsonb, now() + make_interval(secs => %(delay)s), %(priority)s)
RETURNING id, queue_id, payload, enqueued_at, vt, read_ct, dequeued_at, worker_id, last_error, priority, dedup_key;

-- name: message_enqueue_assigned :one
-- The producer's insert: it knows every other column (its queue, its payload, read_ct 0, no
-- lease), so only what the server assigns comes back; the payload is not sent back and decoded.
-- trace_context: the enqueue's span (pgqrs.instrumentation), NULL without tracing.
-- `at` (a scheduled time) or else now() + delay: the database clock decides.
INSERT INTO {schema}.pgqrs_messages (queue_id, payload, vt, priority, trace_context)
VALUES (%(queue_id)s, %(payload)s::jsonb,
        coalesce(%(at)s::timestamptz, now() + make_interval(secs => %(delay)s)), %(priority)s,
        %(trace_context)s)
RETURNING id, enqueued_at, vt;

-- name: message_enqueue_assigned_notify :one
-- message_enqueue_assigned that also wakes the queue's idle workers (pgqrs._notify): delivered
-- at commit, never on rollback. The uncorrelated subquery is an InitPlan: pg_notify runs once.
INSERT INTO {schema}.pgqrs_messages (queue_id, payload, vt, priority, trace_context)
SELECT %(queue_id)s, %(payload)s::jsonb,
       coalesce(%(at)s::timestamptz, now() + make_interval(secs => %(delay)s)), %(priority)s,
       %(trace_context)s
WHERE (SELECT true FROM pg_notify(%(channel)s, %(wake)s))
RETURNING id, enqueued_at, vt;

-- name: message_enqueue_batch :many
-- One statement for the whole batch: all rows or none. Ids follow input order (ORDER BY position).
-- The payload array is sent in binary format: no array quoting or escaping on either side.
INSERT INTO {schema}.pgqrs_messages (queue_id, payload, vt, priority, trace_context)
SELECT %(queue_id)s, input.payload::jsonb,
       coalesce(%(at)s::timestamptz, now() + make_interval(secs => %(delay)s)), %(priority)s,
       %(trace_context)s
FROM unnest(%(payloads)b::text[]) WITH ORDINALITY AS input (payload, position)
ORDER BY input.position
RETURNING id, enqueued_at, vt;

-- name: message_enqueue_batch_notify :many
-- message_enqueue_batch with one wake-up for the whole statement (an InitPlan, as above).
INSERT INTO {schema}.pgqrs_messages (queue_id, payload, vt, priority, trace_context)
SELECT %(queue_id)s, input.payload::jsonb,
       coalesce(%(at)s::timestamptz, now() + make_interval(secs => %(delay)s)), %(priority)s,
       %(trace_context)s
FROM unnest(%(payloads)b::text[]) WITH ORDINALITY AS input (payload, position)
WHERE (SELECT true FROM pg_notify(%(channel)s, %(wake)s))
ORDER BY input.position
RETURNING id, enqueued_at, vt;

-- name: message_enqueue_each :many
-- Concurrent single enqueues of one producer in one statement (pgqrs._async._coalesce): each
-- row its own delay or time, priority and trace context. Ids follow input order, as above.
INSERT INTO {schema}.pgqrs_messages (queue_id, payload, vt, priority, trace_context)
SELECT %(queue_id)s, input.payload::jsonb,
       coalesce(input.at, now() + make_interval(secs => input.delay)), input.priority, input.trace_context
FROM unnest(%(payloads)b::text[], %(delays)s::float8[], %(ats)s::timestamptz[], %(priorities)s::integer[],
            %(trace_contexts)s::text[]) WITH ORDINALITY AS input (payload, delay, at, priority, trace_context, position)
ORDER BY input.position
RETURNING id, enqueued_at, vt;

-- name: message_enqueue_each_notify :many
-- message_enqueue_each with one wake-up for the whole statement (an InitPlan, as above).
INSERT INTO {schema}.pgqrs_messages (queue_id, payload, vt, priority, trace_context)
SELECT %(queue_id)s, input.payload::jsonb,
       coalesce(input.at, now() + make_interval(secs => input.delay)), input.priority, input.trace_context
FROM unnest(%(payloads)b::text[], %(delays)s::float8[], %(ats)s::timestamptz[], %(priorities)s::integer[],
            %(trace_contexts)s::text[]) WITH ORDINALITY AS input (payload, delay, at, priority, trace_context, position)
WHERE (SELECT true FROM pg_notify(%(channel)s, %(wake)s))
ORDER BY input.position
RETURNING id, enqueued_at, vt;

-- name: message_enqueue_keyed :many
-- Keyed enqueue, queue without a dedup window: a live key writes nothing and its message comes
-- back (fresh false, payload as text); written rows: fresh. The unique index decides; key
-- order avoids deadlocks. Last column: the queue has a window now (use the _windowed one).
WITH queue AS (
    SELECT dedup_window > interval '0' AS windowed FROM {schema}.pgqrs_queues WHERE id = %(queue_id)s
), inserted AS (
    INSERT INTO {schema}.pgqrs_messages (queue_id, payload, vt, priority, dedup_key, trace_context)
    SELECT %(queue_id)s, input.payload::jsonb,
           coalesce(%(at)s::timestamptz, now() + make_interval(secs => %(delay)s)), %(priority)s,
           input.dedup_key, %(trace_context)s
    FROM unnest(%(payloads)b::text[], %(keys)b::text[]) WITH ORDINALITY AS input (payload, dedup_key, position)
    ORDER BY input.dedup_key COLLATE "C", input.position
    ON CONFLICT (queue_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
    RETURNING id, enqueued_at, vt, priority, dedup_key
)
SELECT id, NULL, enqueued_at, vt, 0, NULL, NULL, NULL, priority, dedup_key, true, NULL::timestamptz,
       (SELECT windowed FROM queue) FROM inserted
UNION ALL
SELECT m.id, m.payload::text, m.enqueued_at, m.vt, m.read_ct, m.dequeued_at, m.worker_id,
       m.last_error, m.priority, m.dedup_key, false, NULL, (SELECT windowed FROM queue)
FROM {schema}.pgqrs_messages m
WHERE m.queue_id = %(queue_id)s AND m.dedup_key = ANY(%(keys)b::text[]) AND m.dedup_key IS NOT NULL
  AND NOT EXISTS (SELECT FROM inserted WHERE inserted.dedup_key = m.dedup_key);

-- name: message_enqueue_keyed_notify :many
-- message_enqueue_keyed with one wake-up for the whole statement, sent only if a row was written.
WITH queue AS (
    SELECT dedup_window > interval '0' AS windowed FROM {schema}.pgqrs_queues WHERE id = %(queue_id)s
), inserted AS (
    INSERT INTO {schema}.pgqrs_messages (queue_id, payload, vt, priority, dedup_key, trace_context)
    SELECT %(queue_id)s, input.payload::jsonb,
           coalesce(%(at)s::timestamptz, now() + make_interval(secs => %(delay)s)), %(priority)s,
           input.dedup_key, %(trace_context)s
    FROM unnest(%(payloads)b::text[], %(keys)b::text[]) WITH ORDINALITY AS input (payload, dedup_key, position)
    ORDER BY input.dedup_key COLLATE "C", input.position
    ON CONFLICT (queue_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
    RETURNING id, enqueued_at, vt, priority, dedup_key
), woken AS MATERIALIZED (SELECT pg_notify(%(channel)s, %(wake)s) WHERE EXISTS (SELECT FROM inserted))
SELECT id, NULL, enqueued_at, vt, 0, NULL, NULL, NULL, priority, dedup_key, true, NULL::timestamptz,
       (SELECT windowed FROM queue) FROM inserted, woken
UNION ALL
SELECT m.id, m.payload::text, m.enqueued_at, m.vt, m.read_ct, m.dequeued_at, m.worker_id,
       m.last_error, m.priority, m.dedup_key, false, NULL, (SELECT windowed FROM queue)
FROM {schema}.pgqrs_messages m
WHERE m.queue_id = %(queue_id)s AND m.dedup_key = ANY(%(keys)b::text[]) AND m.dedup_key IS NOT NULL
  AND NOT EXISTS (SELECT FROM inserted WHERE inserted.dedup_key = m.dedup_key);

-- name: message_enqueue_keyed_windowed :many
-- message_enqueue_keyed for a producer whose queue has a dedup window: see pgqrs_enqueue_keyed
-- (migration 0009), which also closes the race with an acknowledgement that reserves the key.
SELECT id, payload, enqueued_at, vt, read_ct, dequeued_at, worker_id, last_error, priority,
       dedup_key, fresh, acknowledged_at
FROM {schema}.pgqrs_enqueue_keyed(%(queue_id)s::bigint, %(payloads)b::text[], %(keys)b::text[],
                                  %(at)s::timestamptz, %(delay)s::double precision,
                                  %(priority)s::integer, %(trace_context)s::text, NULL, NULL);

-- name: message_enqueue_keyed_windowed_notify :many
-- message_enqueue_keyed_windowed that wakes the queue's idle workers if it wrote a row.
SELECT id, payload, enqueued_at, vt, read_ct, dequeued_at, worker_id, last_error, priority,
       dedup_key, fresh, acknowledged_at
FROM {schema}.pgqrs_enqueue_keyed(%(queue_id)s::bigint, %(payloads)b::text[], %(keys)b::text[],
                                  %(at)s::timestamptz, %(delay)s::double precision,
                                  %(priority)s::integer, %(trace_context)s::text,
                                  %(channel)s::text, %(wake)s::text);

-- name: message_dequeue :many
-- Lease up to `limit` visible messages in visibility order, skipping rows others hold: see
-- pgqrs_dequeue (migration 0003; its plan does not depend on statistics). A message over
-- max_read_count is leased, then buried by the consumer (message_bury). (Comments are sent
-- too: keep them short, pg_stat_activity shows a statement's first 1 kB.)
SELECT id, payload, enqueued_at, vt, read_ct, dequeued_at, last_error, priority, dedup_key
FROM {schema}.pgqrs_dequeue(%(queue_id)s::bigint, %(worker_id)s::bigint, %(limit)s::integer,
                            %(lock_time)s::double precision, %(message_type)s::text);

-- name: message_bury :many
-- Poison messages (leased once more than max_read_count allows) move to the archive with a
-- reason, in one statement; only rows this worker holds. read_ct there counts real deliveries.
WITH dead AS (
    DELETE FROM {schema}.pgqrs_messages
    WHERE id = ANY(%(ids)s::bigint[]) AND coalesce(worker_id, 0) = %(worker_id)s
    RETURNING id, queue_id, payload, enqueued_at, read_ct - 1 AS deliveries, last_error
), counted AS (
    INSERT INTO {schema}.pgqrs_archive_counts AS counts (queue_id, shard, archived, dead_letters)
    SELECT queue_id, pg_backend_pid() %% 16, count(*), count(*) FROM dead GROUP BY queue_id
    ON CONFLICT (queue_id, shard) DO UPDATE
    SET archived = counts.archived + excluded.archived,
        dead_letters = counts.dead_letters + excluded.dead_letters
)
INSERT INTO {schema}.pgqrs_archive (original_msg_id, queue_id, payload, enqueued_at, read_ct,
                                    dead_letter_reason, last_error)
SELECT id, queue_id, payload, enqueued_at, deliveries,
       'delivered ' || deliveries || ' times without acknowledgement (max_read_count = '
       || %(max_read_count)s || ')', last_error
FROM dead
RETURNING original_msg_id;

-- name: message_bury_keyed :many
-- message_bury for a consumer that has leased keyed messages: see message_delete_owned_keyed.
WITH dead AS (
    DELETE FROM {schema}.pgqrs_messages
    WHERE id = ANY(%(ids)s::bigint[]) AND coalesce(worker_id, 0) = %(worker_id)s
    RETURNING id, queue_id, payload, enqueued_at, read_ct, read_ct - 1 AS deliveries, last_error,
              priority, dedup_key
), reserved AS (
    -- Each key stays reserved for its queue's dedup window (0: none): pgqrs_dedup_keys.
    INSERT INTO {schema}.pgqrs_dedup_keys (queue_id, dedup_key, message_id, enqueued_at, read_ct,
                                           priority, acknowledged_at, expires_at)
    SELECT gone.queue_id, gone.dedup_key, gone.id, gone.enqueued_at, gone.read_ct, gone.priority,
           now(), now() + q.dedup_window
    FROM dead gone JOIN {schema}.pgqrs_queues q ON q.id = gone.queue_id
    WHERE gone.dedup_key IS NOT NULL AND q.dedup_window > interval '0'
    ON CONFLICT (queue_id, dedup_key) DO UPDATE
    SET (message_id, enqueued_at, read_ct, priority, acknowledged_at, expires_at) =
        (excluded.message_id, excluded.enqueued_at, excluded.read_ct, excluded.priority,
         excluded.acknowledged_at, excluded.expires_at)
), counted AS (
    INSERT INTO {schema}.pgqrs_archive_counts AS counts (queue_id, shard, archived, dead_letters)
    SELECT queue_id, pg_backend_pid() %% 16, count(*), count(*) FROM dead GROUP BY queue_id
    ON CONFLICT (queue_id, shard) DO UPDATE
    SET archived = counts.archived + excluded.archived,
        dead_letters = counts.dead_letters + excluded.dead_letters
)
INSERT INTO {schema}.pgqrs_archive (original_msg_id, queue_id, payload, enqueued_at, read_ct,
                                    dead_letter_reason, last_error)
SELECT id, queue_id, payload, enqueued_at, deliveries,
       'delivered ' || deliveries || ' times without acknowledgement (max_read_count = '
       || %(max_read_count)s || ')', last_error
FROM dead
RETURNING original_msg_id;

-- name: message_delete_owned :many
-- Acknowledge by deletion: only rows leased by this worker (the lease holder; a worker belongs
-- to one queue, so the queue needs no test of its own). Every ack finds its rows through the
-- primary key whatever the statistics say: `coalesce(worker_id, 0)` keeps the worker test off
-- the partial worker_id index (with statistics from before the leases it read every lease the
-- worker held), and no `queue_id = X` test invites a walk of the queue's dequeue index.
DELETE FROM {schema}.pgqrs_messages
WHERE id = ANY(%(ids)s::bigint[]) AND coalesce(worker_id, 0) = %(worker_id)s
RETURNING id;

-- name: message_delete_owned_keyed :many
-- message_delete_owned for a consumer that has leased messages with dedup keys (everyone else
-- runs the plain statement, unchanged): the keys stay reserved as in archive_move_keyed.
WITH deleted AS (
    DELETE FROM {schema}.pgqrs_messages
    WHERE id = ANY(%(ids)s::bigint[]) AND coalesce(worker_id, 0) = %(worker_id)s
    RETURNING id, queue_id, enqueued_at, read_ct, priority, dedup_key
), reserved AS (
    -- Each key stays reserved for its queue's dedup window (0: none): pgqrs_dedup_keys.
    INSERT INTO {schema}.pgqrs_dedup_keys (queue_id, dedup_key, message_id, enqueued_at, read_ct,
                                           priority, acknowledged_at, expires_at)
    SELECT gone.queue_id, gone.dedup_key, gone.id, gone.enqueued_at, gone.read_ct, gone.priority,
           now(), now() + q.dedup_window
    FROM deleted gone JOIN {schema}.pgqrs_queues q ON q.id = gone.queue_id
    WHERE gone.dedup_key IS NOT NULL AND q.dedup_window > interval '0'
    ON CONFLICT (queue_id, dedup_key) DO UPDATE
    SET (message_id, enqueued_at, read_ct, priority, acknowledged_at, expires_at) =
        (excluded.message_id, excluded.enqueued_at, excluded.read_ct, excluded.priority,
         excluded.acknowledged_at, excluded.expires_at)
)
SELECT id FROM deleted;

-- name: message_delete_owned_one :many
-- message_delete_owned for one id (Consumer.delete): no array to build, send and unnest;
-- ~3 percent of a one-at-a-time dequeue + delete (measured).
DELETE FROM {schema}.pgqrs_messages
WHERE id = %(id)s AND coalesce(worker_id, 0) = %(worker_id)s
RETURNING id;

-- name: message_extend_owned :many
UPDATE {schema}.pgqrs_messages
SET vt = greatest(vt, now()) + make_interval(secs => %(duration)s)
WHERE id = ANY(%(ids)s::bigint[]) AND coalesce(worker_id, 0) = %(worker_id)s
RETURNING id;

-- name: message_renew_owned :many
-- The runtime's lease keeping: each held lease ends `lock_time` from now (not added to what is
-- left, so a worker that dies frees its messages one lock_time after its last renewal).
UPDATE {schema}.pgqrs_messages
SET vt = now() + make_interval(secs => %(lock_time)s)
WHERE id = ANY(%(ids)s::bigint[]) AND coalesce(worker_id, 0) = %(worker_id)s
RETURNING id;

-- name: message_release_owned :many
-- Give held messages back: visible again after `delay` seconds, the lease fields cleared. This
-- delivery counts towards max_read_count only when `count_delivery` (a retry); otherwise
-- read_ct goes back down (the message was not processed).
UPDATE {schema}.pgqrs_messages
SET vt = now() + make_interval(secs => %(delay)s),
    read_ct = CASE WHEN %(count_delivery)s THEN read_ct ELSE greatest(read_ct - 1, 0) END,
    worker_id = NULL, dequeued_at = NULL
WHERE id = ANY(%(ids)s::bigint[]) AND coalesce(worker_id, 0) = %(worker_id)s
RETURNING id;

-- name: message_retry :many
-- The runtime's failed attempts: each held message visible again after its own delay, this
-- delivery counted (read_ct stays), its error kept; one statement for the whole batch.
UPDATE {schema}.pgqrs_messages m
SET vt = now() + make_interval(secs => retry.delay), last_error = retry.error,
    worker_id = NULL, dequeued_at = NULL
FROM unnest(%(ids)s::bigint[], %(delays)s::double precision[], %(errors)s::text[])
     AS retry (id, delay, error)
WHERE m.id = retry.id AND coalesce(m.worker_id, 0) = %(worker_id)s
RETURNING m.id;

-- name: message_dead_letter :many
-- The runtime's given-up messages: to the archive with a reason and the last error, in one
-- statement; only rows this worker holds.
WITH dead AS (
    DELETE FROM {schema}.pgqrs_messages m
    USING unnest(%(ids)s::bigint[], %(reasons)s::text[], %(errors)s::text[]) AS given_up (id, reason, error)
    WHERE m.id = given_up.id AND coalesce(m.worker_id, 0) = %(worker_id)s
    RETURNING m.id, m.queue_id, m.payload, m.enqueued_at, m.dequeued_at, m.read_ct, m.worker_id,
              given_up.reason, given_up.error
), counted AS (
    INSERT INTO {schema}.pgqrs_archive_counts AS counts (queue_id, shard, archived, dead_letters)
    SELECT queue_id, pg_backend_pid() %% 16, count(*), count(*) FROM dead GROUP BY queue_id
    ON CONFLICT (queue_id, shard) DO UPDATE
    SET archived = counts.archived + excluded.archived,
        dead_letters = counts.dead_letters + excluded.dead_letters
)
INSERT INTO {schema}.pgqrs_archive (original_msg_id, queue_id, payload, enqueued_at, dequeued_at,
                                    read_ct, processing_duration, worker_id, dead_letter_reason,
                                    last_error)
SELECT id, queue_id, payload, enqueued_at, dequeued_at, read_ct,
       (extract(epoch FROM clock_timestamp() - dequeued_at) * 1000)::bigint, worker_id, reason, error
FROM dead
RETURNING original_msg_id;

-- name: message_dead_letter_keyed :many
-- message_dead_letter for a consumer that has leased keyed messages: see message_delete_owned_keyed.
WITH dead AS (
    DELETE FROM {schema}.pgqrs_messages m
    USING unnest(%(ids)s::bigint[], %(reasons)s::text[], %(errors)s::text[]) AS given_up (id, reason, error)
    WHERE m.id = given_up.id AND coalesce(m.worker_id, 0) = %(worker_id)s
    RETURNING m.id, m.queue_id, m.payload, m.enqueued_at, m.dequeued_at, m.read_ct, m.worker_id,
              given_up.reason, given_up.error, m.priority, m.dedup_key
), reserved AS (
    -- Each key stays reserved for its queue's dedup window (0: none): pgqrs_dedup_keys.
    INSERT INTO {schema}.pgqrs_dedup_keys (queue_id, dedup_key, message_id, enqueued_at, read_ct,
                                           priority, acknowledged_at, expires_at)
    SELECT gone.queue_id, gone.dedup_key, gone.id, gone.enqueued_at, gone.read_ct, gone.priority,
           now(), now() + q.dedup_window
    FROM dead gone JOIN {schema}.pgqrs_queues q ON q.id = gone.queue_id
    WHERE gone.dedup_key IS NOT NULL AND q.dedup_window > interval '0'
    ON CONFLICT (queue_id, dedup_key) DO UPDATE
    SET (message_id, enqueued_at, read_ct, priority, acknowledged_at, expires_at) =
        (excluded.message_id, excluded.enqueued_at, excluded.read_ct, excluded.priority,
         excluded.acknowledged_at, excluded.expires_at)
), counted AS (
    INSERT INTO {schema}.pgqrs_archive_counts AS counts (queue_id, shard, archived, dead_letters)
    SELECT queue_id, pg_backend_pid() %% 16, count(*), count(*) FROM dead GROUP BY queue_id
    ON CONFLICT (queue_id, shard) DO UPDATE
    SET archived = counts.archived + excluded.archived,
        dead_letters = counts.dead_letters + excluded.dead_letters
)
INSERT INTO {schema}.pgqrs_archive (original_msg_id, queue_id, payload, enqueued_at, dequeued_at,
                                    read_ct, processing_duration, worker_id, dead_letter_reason,
                                    last_error)
SELECT id, queue_id, payload, enqueued_at, dequeued_at, read_ct,
       (extract(epoch FROM clock_timestamp() - dequeued_at) * 1000)::bigint, worker_id, reason, error
FROM dead
RETURNING original_msg_id;

-- name: message_extend :many
-- Producer-side: postpone a message of this queue whoever holds it. `queue_id + 0` checks the
-- queue on the rows the primary key finds, and cannot send the planner down the queue's index.
UPDATE {schema}.pgqrs_messages
SET vt = greatest(vt, now()) + make_interval(secs => %(duration)s)
WHERE id = ANY(%(ids)s::bigint[]) AND queue_id + 0 = %(queue_id)s
RETURNING id;

-- name: message_trace_contexts :many
-- The trace contexts of leased messages, for the hooks of their handler runs (only when a hook
-- wants them: pgqrs.instrumentation). By primary key.
SELECT id, trace_context FROM {schema}.pgqrs_messages
WHERE id = ANY(%(ids)s::bigint[]) AND trace_context IS NOT NULL;

-- name: message_get :one
SELECT id, queue_id, payload, enqueued_at, vt, read_ct, dequeued_at, worker_id, last_error, priority, dedup_key
FROM {schema}.pgqrs_messages WHERE id = %(id)s;

-- name: message_list :many
SELECT id, queue_id, payload, enqueued_at, vt, read_ct, dequeued_at, worker_id, last_error, priority, dedup_key
FROM {schema}.pgqrs_messages ORDER BY id LIMIT %(limit)s;

-- name: message_filter_by_queue :many
SELECT id, queue_id, payload, enqueued_at, vt, read_ct, dequeued_at, worker_id, last_error, priority, dedup_key
FROM {schema}.pgqrs_messages WHERE queue_id = %(queue_id)s ORDER BY priority DESC, vt, id LIMIT %(limit)s;

-- name: message_count :one
SELECT count(*) FROM {schema}.pgqrs_messages;

-- name: message_count_by_queue :one
SELECT count(*) FROM {schema}.pgqrs_messages WHERE queue_id = %(queue_id)s;

-- name: message_delete :one
-- Administrative: removes the message whatever its lease.
WITH deleted AS (DELETE FROM {schema}.pgqrs_messages WHERE id = %(id)s RETURNING id)
SELECT count(*) FROM deleted;

-- name: message_purge_queue :one
WITH deleted AS (DELETE FROM {schema}.pgqrs_messages WHERE queue_id = %(queue_id)s RETURNING id)
SELECT count(*) FROM deleted;

-- name: message_outstanding :one
-- Whether any message of these queues still needs a worker: visible, leased, or waiting for a
-- retry (delivered before). A message delayed by its producer and never delivered does not.
SELECT EXISTS (
    SELECT FROM {schema}.pgqrs_messages
    WHERE queue_id = ANY(%(queue_ids)s::bigint[])
      AND (vt <= now() OR worker_id IS NOT NULL OR read_ct > 0)
);
