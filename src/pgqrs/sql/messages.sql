-- Queries on pgqrs_messages. Columns in QueueMessage order:
-- id, queue_id, payload, enqueued_at, vt, read_ct, dequeued_at, worker_id.
-- Payloads arrive as JSON text (validated client-side) and are cast to jsonb here.

-- name: message_enqueue :one
INSERT INTO {schema}.pgqrs_messages (queue_id, payload, vt)
VALUES (%(queue_id)s, %(payload)s::jsonb, now() + make_interval(secs => %(delay)s))
RETURNING id, queue_id, payload, enqueued_at, vt, read_ct, dequeued_at, worker_id;

-- name: message_enqueue_assigned :one
-- The producer's insert: it knows every other column (its queue, its payload, read_ct 0, no
-- lease), so only what the server assigns comes back; the payload is not sent back and decoded.
INSERT INTO {schema}.pgqrs_messages (queue_id, payload, vt)
VALUES (%(queue_id)s, %(payload)s::jsonb, now() + make_interval(secs => %(delay)s))
RETURNING id, enqueued_at, vt;

-- name: message_enqueue_batch :many
-- One statement for the whole batch: all rows or none. Ids follow input order (ORDER BY position).
-- The payload array is sent in binary format: no array quoting or escaping on either side.
INSERT INTO {schema}.pgqrs_messages (queue_id, payload, vt)
SELECT %(queue_id)s, input.payload::jsonb, now() + make_interval(secs => %(delay)s)
FROM unnest(%(payloads)b::text[]) WITH ORDINALITY AS input (payload, position)
ORDER BY input.position
RETURNING id, enqueued_at, vt;

-- name: message_dequeue :many
-- Lease up to `limit` visible messages in visibility order, skipping rows other consumers hold;
-- columns: id, payload, enqueued_at, vt, read_ct, dequeued_at. Kept lean (the hot path): a
-- message over max_read_count is leased like any other, then buried by the consumer
-- (message_bury). `message_type`, when not null, keeps payloads whose "type" equals it.
-- (Comments are sent too: keep them short, pg_stat_activity shows a statement's first 1 kB.)
WITH candidates AS (
    SELECT id, vt FROM {schema}.pgqrs_messages
    WHERE queue_id = %(queue_id)s AND vt <= now()
      AND (%(message_type)s::text IS NULL OR payload ->> 'type' = %(message_type)s::text)
    ORDER BY vt, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), leased AS (
    UPDATE {schema}.pgqrs_messages m
    SET vt = now() + make_interval(secs => %(lock_time)s), read_ct = m.read_ct + 1,
        dequeued_at = now(), worker_id = %(worker_id)s
    FROM candidates c
    WHERE m.id = c.id
    RETURNING m.id, m.payload, m.enqueued_at, m.vt, m.read_ct, m.dequeued_at, c.vt AS visible_since
)
SELECT id, payload, enqueued_at, vt, read_ct, dequeued_at FROM leased ORDER BY visible_since, id;

-- name: message_dequeue_one :many
-- message_dequeue for a single message (Consumer.dequeue): one row needs no final sort, and the
-- CTE scan and sort cost ~3 percent of a one-at-a-time dequeue + delete (measured). Same columns.
WITH candidates AS (
    SELECT id FROM {schema}.pgqrs_messages
    WHERE queue_id = %(queue_id)s AND vt <= now()
      AND (%(message_type)s::text IS NULL OR payload ->> 'type' = %(message_type)s::text)
    ORDER BY vt, id
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE {schema}.pgqrs_messages m
SET vt = now() + make_interval(secs => %(lock_time)s), read_ct = m.read_ct + 1,
    dequeued_at = now(), worker_id = %(worker_id)s
FROM candidates c
WHERE m.id = c.id
RETURNING m.id, m.payload, m.enqueued_at, m.vt, m.read_ct, m.dequeued_at;

-- name: message_bury :many
-- Poison messages (leased once more than max_read_count allows) move to the archive with a
-- reason, in one statement; only rows this worker holds. read_ct there counts real deliveries.
WITH dead AS (
    DELETE FROM {schema}.pgqrs_messages
    WHERE id = ANY(%(ids)s::bigint[]) AND queue_id = %(queue_id)s
      AND coalesce(worker_id, 0) = %(worker_id)s
    RETURNING id, queue_id, payload, enqueued_at, read_ct - 1 AS deliveries
)
INSERT INTO {schema}.pgqrs_archive (original_msg_id, queue_id, payload, enqueued_at, read_ct,
                                    dead_letter_reason)
SELECT id, queue_id, payload, enqueued_at, deliveries,
       'delivered ' || deliveries || ' times without acknowledgement (max_read_count = '
       || %(max_read_count)s || ')'
FROM dead
RETURNING original_msg_id;

-- name: message_delete_owned :many
-- Acknowledge by deletion: only rows of this queue leased by this worker (the lease holder).
-- `coalesce(worker_id, 0)` in every ack keeps the check off the partial worker_id index (any
-- strict test would let the planner use it): with statistics from before the leases it read
-- every lease the worker held (22 ms for 100 ids at 20k held); the primary key probes each id.
DELETE FROM {schema}.pgqrs_messages
WHERE id = ANY(%(ids)s::bigint[]) AND queue_id = %(queue_id)s
  AND coalesce(worker_id, 0) = %(worker_id)s
RETURNING id;

-- name: message_delete_owned_one :many
-- message_delete_owned for one id (Consumer.delete): no array to build, send and unnest;
-- ~3 percent of a one-at-a-time dequeue + delete (measured).
DELETE FROM {schema}.pgqrs_messages
WHERE id = %(id)s AND queue_id = %(queue_id)s
  AND coalesce(worker_id, 0) = %(worker_id)s
RETURNING id;

-- name: message_extend_owned :many
UPDATE {schema}.pgqrs_messages
SET vt = greatest(vt, now()) + make_interval(secs => %(duration)s)
WHERE id = ANY(%(ids)s::bigint[]) AND queue_id = %(queue_id)s
  AND coalesce(worker_id, 0) = %(worker_id)s
RETURNING id;

-- name: message_release_owned :many
-- Give held messages back unprocessed: visible now, and this delivery does not count towards
-- max_read_count (read_ct goes back down).
UPDATE {schema}.pgqrs_messages
SET vt = now(), read_ct = greatest(read_ct - 1, 0), worker_id = NULL
WHERE id = ANY(%(ids)s::bigint[]) AND queue_id = %(queue_id)s
  AND coalesce(worker_id, 0) = %(worker_id)s
RETURNING id;

-- name: message_extend :many
-- Producer-side: postpone a message of this queue whoever holds it.
UPDATE {schema}.pgqrs_messages
SET vt = greatest(vt, now()) + make_interval(secs => %(duration)s)
WHERE id = ANY(%(ids)s::bigint[]) AND queue_id = %(queue_id)s
RETURNING id;

-- name: message_get :one
SELECT id, queue_id, payload, enqueued_at, vt, read_ct, dequeued_at, worker_id
FROM {schema}.pgqrs_messages WHERE id = %(id)s;

-- name: message_list :many
SELECT id, queue_id, payload, enqueued_at, vt, read_ct, dequeued_at, worker_id
FROM {schema}.pgqrs_messages ORDER BY id LIMIT %(limit)s;

-- name: message_filter_by_queue :many
SELECT id, queue_id, payload, enqueued_at, vt, read_ct, dequeued_at, worker_id
FROM {schema}.pgqrs_messages WHERE queue_id = %(queue_id)s ORDER BY vt, id LIMIT %(limit)s;

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
