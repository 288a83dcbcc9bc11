-- Queries on pgqrs_archive. Columns in ArchivedMessage order: id, original_msg_id, queue_id,
-- payload, enqueued_at, dequeued_at, read_ct, archived_at, processing_duration, worker_id,
-- dead_letter_reason, last_error.

-- name: archive_move :many
-- Acknowledge by archiving: delete and insert in one statement, so a message is never in both
-- tables or in neither. Only the lease holder's rows move (found by primary key: see
-- message_delete_owned). Every statement that adds or removes archive records adds its delta
-- to pgqrs_archive_counts (a shard per server process), which metrics read.
WITH moved AS (
    DELETE FROM {schema}.pgqrs_messages
    WHERE id = ANY(%(ids)s::bigint[]) AND coalesce(worker_id, 0) = %(worker_id)s
    RETURNING id, queue_id, payload, enqueued_at, dequeued_at, read_ct, worker_id, last_error
), counted AS (
    INSERT INTO {schema}.pgqrs_archive_counts AS counts (queue_id, shard, archived)
    SELECT queue_id, pg_backend_pid() %% 16, count(*) FROM moved GROUP BY queue_id
    ON CONFLICT (queue_id, shard) DO UPDATE SET archived = counts.archived + excluded.archived
)
INSERT INTO {schema}.pgqrs_archive (original_msg_id, queue_id, payload, enqueued_at, dequeued_at,
                                    read_ct, processing_duration, worker_id, last_error)
SELECT id, queue_id, payload, enqueued_at, dequeued_at, read_ct,
       (extract(epoch FROM clock_timestamp() - dequeued_at) * 1000)::bigint, worker_id, last_error
FROM moved
RETURNING original_msg_id;

-- name: archive_move_keyed :many
-- archive_move for a consumer that has leased keyed messages (others run the plain one): the
-- keys stay reserved for the queue's dedup_window (pgqrs_dedup_keys, migration 0009).
WITH moved AS (
    DELETE FROM {schema}.pgqrs_messages
    WHERE id = ANY(%(ids)s::bigint[]) AND coalesce(worker_id, 0) = %(worker_id)s
    RETURNING id, queue_id, payload, enqueued_at, dequeued_at, read_ct, worker_id, last_error,
              priority, dedup_key
), reserved AS (
    -- Each key stays reserved for its queue's dedup window (0: none): pgqrs_dedup_keys.
    INSERT INTO {schema}.pgqrs_dedup_keys (queue_id, dedup_key, message_id, enqueued_at, read_ct,
                                           priority, acknowledged_at, expires_at)
    SELECT gone.queue_id, gone.dedup_key, gone.id, gone.enqueued_at, gone.read_ct, gone.priority,
           now(), now() + q.dedup_window
    FROM moved gone JOIN {schema}.pgqrs_queues q ON q.id = gone.queue_id
    WHERE gone.dedup_key IS NOT NULL AND q.dedup_window > interval '0'
    ON CONFLICT (queue_id, dedup_key) DO UPDATE
    SET (message_id, enqueued_at, read_ct, priority, acknowledged_at, expires_at) =
        (excluded.message_id, excluded.enqueued_at, excluded.read_ct, excluded.priority,
         excluded.acknowledged_at, excluded.expires_at)
), counted AS (
    INSERT INTO {schema}.pgqrs_archive_counts AS counts (queue_id, shard, archived)
    SELECT queue_id, pg_backend_pid() %% 16, count(*) FROM moved GROUP BY queue_id
    ON CONFLICT (queue_id, shard) DO UPDATE SET archived = counts.archived + excluded.archived
)
INSERT INTO {schema}.pgqrs_archive (original_msg_id, queue_id, payload, enqueued_at, dequeued_at,
                                    read_ct, processing_duration, worker_id, last_error)
SELECT id, queue_id, payload, enqueued_at, dequeued_at, read_ct,
       (extract(epoch FROM clock_timestamp() - dequeued_at) * 1000)::bigint, worker_id, last_error
FROM moved
RETURNING original_msg_id;

-- name: archive_insert :one
WITH inserted AS (
    INSERT INTO {schema}.pgqrs_archive (original_msg_id, queue_id, payload, enqueued_at, read_ct,
                                        dead_letter_reason)
    VALUES (%(original_msg_id)s, %(queue_id)s, %(payload)s::jsonb, now(), %(read_ct)s,
            %(dead_letter_reason)s)
    RETURNING id, original_msg_id, queue_id, payload, enqueued_at, dequeued_at, read_ct,
              archived_at, processing_duration, worker_id, dead_letter_reason, last_error
), counted AS (
    INSERT INTO {schema}.pgqrs_archive_counts AS counts (queue_id, shard, archived, dead_letters)
    SELECT queue_id, pg_backend_pid() %% 16, 1, (dead_letter_reason IS NOT NULL)::integer
    FROM inserted
    ON CONFLICT (queue_id, shard) DO UPDATE
    SET archived = counts.archived + 1, dead_letters = counts.dead_letters + excluded.dead_letters
)
SELECT * FROM inserted;

-- name: archive_get :one
SELECT id, original_msg_id, queue_id, payload, enqueued_at, dequeued_at, read_ct, archived_at,
       processing_duration, worker_id, dead_letter_reason, last_error
FROM {schema}.pgqrs_archive WHERE id = %(id)s;

-- name: archive_get_by_original_id :one
SELECT id, original_msg_id, queue_id, payload, enqueued_at, dequeued_at, read_ct, archived_at,
       processing_duration, worker_id, dead_letter_reason, last_error
FROM {schema}.pgqrs_archive WHERE original_msg_id = %(original_msg_id)s AND queue_id = %(queue_id)s
ORDER BY id DESC LIMIT 1;

-- name: archive_list :many
SELECT id, original_msg_id, queue_id, payload, enqueued_at, dequeued_at, read_ct, archived_at,
       processing_duration, worker_id, dead_letter_reason, last_error
FROM {schema}.pgqrs_archive ORDER BY id DESC LIMIT %(limit)s;

-- name: archive_filter_by_queue :many
-- Newest first: the archive is read as a history.
SELECT id, original_msg_id, queue_id, payload, enqueued_at, dequeued_at, read_ct, archived_at,
       processing_duration, worker_id, dead_letter_reason, last_error
FROM {schema}.pgqrs_archive
WHERE queue_id = %(queue_id)s
  AND (%(message_type)s::text IS NULL OR payload ->> 'type' = %(message_type)s::text)
ORDER BY id DESC LIMIT %(limit)s;

-- name: archive_count :one
SELECT count(*) FROM {schema}.pgqrs_archive;

-- name: archive_count_by_queue :one
-- From the kept counts (see archive_move): constant time, however large the archive.
SELECT coalesce(sum(archived), 0)::bigint
FROM {schema}.pgqrs_archive_counts WHERE queue_id = %(queue_id)s;

-- name: archive_delete :one
WITH deleted AS (
    DELETE FROM {schema}.pgqrs_archive WHERE id = %(id)s RETURNING queue_id, dead_letter_reason
), counted AS (
    INSERT INTO {schema}.pgqrs_archive_counts AS counts (queue_id, shard, archived, dead_letters)
    SELECT queue_id, pg_backend_pid() %% 16, -count(*),
           -count(*) FILTER (WHERE dead_letter_reason IS NOT NULL)
    FROM deleted GROUP BY queue_id
    ON CONFLICT (queue_id, shard) DO UPDATE
    SET archived = counts.archived + excluded.archived,
        dead_letters = counts.dead_letters + excluded.dead_letters
)
SELECT count(*) FROM deleted;

-- name: archive_purge_queue :one
WITH deleted AS (
    DELETE FROM {schema}.pgqrs_archive WHERE queue_id = %(queue_id)s
    RETURNING queue_id, dead_letter_reason
), counted AS (
    INSERT INTO {schema}.pgqrs_archive_counts AS counts (queue_id, shard, archived, dead_letters)
    SELECT queue_id, pg_backend_pid() %% 16, -count(*),
           -count(*) FILTER (WHERE dead_letter_reason IS NOT NULL)
    FROM deleted GROUP BY queue_id
    ON CONFLICT (queue_id, shard) DO UPDATE
    SET archived = counts.archived + excluded.archived,
        dead_letters = counts.dead_letters + excluded.dead_letters
)
SELECT count(*) FROM deleted;

-- name: archive_delivery_summary :one
-- For delivery checks: how many records, how many distinct original messages.
SELECT count(*), count(DISTINCT original_msg_id)
FROM {schema}.pgqrs_archive WHERE queue_id = %(queue_id)s;

-- name: archive_dead_letters :many
-- A queue's dead letters in id order, a page at a time: the ids after `after_id`
-- (pgqrs_archive_dead_letters_idx holds only dead letters, so no acknowledged record is read).
SELECT id, original_msg_id, queue_id, payload, enqueued_at, dequeued_at, read_ct, archived_at,
       processing_duration, worker_id, dead_letter_reason, last_error
FROM {schema}.pgqrs_archive
WHERE queue_id = %(queue_id)s AND dead_letter_reason IS NOT NULL AND id > %(after_id)s
ORDER BY id LIMIT %(limit)s;

-- name: archive_requeue :one
-- Dead letters (these archive ids, of this queue) back on their queue as new messages, in one
-- statement: visible now, read_ct 0, their last error kept. The counts lose them (see
-- archive_delete), and the queue's idle workers are woken (pgqrs._notify). New ids follow the
-- archive ids' order (the insert reads `chosen` ordered): answers (archive ids, message ids).
WITH chosen AS (
    DELETE FROM {schema}.pgqrs_archive
    WHERE id = ANY(%(ids)s::bigint[]) AND queue_id = %(queue_id)s AND dead_letter_reason IS NOT NULL
    RETURNING id, queue_id, payload, last_error
), counted AS (
    INSERT INTO {schema}.pgqrs_archive_counts AS counts (queue_id, shard, archived, dead_letters)
    SELECT queue_id, pg_backend_pid() %% 16, -count(*), -count(*) FROM chosen GROUP BY queue_id
    ON CONFLICT (queue_id, shard) DO UPDATE
    SET archived = counts.archived + excluded.archived,
        dead_letters = counts.dead_letters + excluded.dead_letters
), requeued AS (
    INSERT INTO {schema}.pgqrs_messages (queue_id, payload, last_error)
    SELECT queue_id, payload, last_error FROM chosen ORDER BY id
    RETURNING id
)
SELECT coalesce((SELECT array_agg(id ORDER BY id) FROM chosen), ARRAY[]::bigint[]),
       coalesce((SELECT array_agg(id ORDER BY id) FROM requeued), ARRAY[]::bigint[]),
       (SELECT count(*) FROM (SELECT pg_notify(%(channel)s, %(wake)s) WHERE EXISTS (SELECT FROM chosen)) woken);

-- name: archive_requeue_all :one
-- archive_requeue for every dead letter of the queue (its dead-letter index range).
WITH chosen AS (
    DELETE FROM {schema}.pgqrs_archive
    WHERE queue_id = %(queue_id)s AND dead_letter_reason IS NOT NULL
    RETURNING id, queue_id, payload, last_error
), counted AS (
    INSERT INTO {schema}.pgqrs_archive_counts AS counts (queue_id, shard, archived, dead_letters)
    SELECT queue_id, pg_backend_pid() %% 16, -count(*), -count(*) FROM chosen GROUP BY queue_id
    ON CONFLICT (queue_id, shard) DO UPDATE
    SET archived = counts.archived + excluded.archived,
        dead_letters = counts.dead_letters + excluded.dead_letters
), requeued AS (
    INSERT INTO {schema}.pgqrs_messages (queue_id, payload, last_error)
    SELECT queue_id, payload, last_error FROM chosen ORDER BY id
    RETURNING id
)
SELECT coalesce((SELECT array_agg(id ORDER BY id) FROM chosen), ARRAY[]::bigint[]),
       coalesce((SELECT array_agg(id ORDER BY id) FROM requeued), ARRAY[]::bigint[]),
       (SELECT count(*) FROM (SELECT pg_notify(%(channel)s, %(wake)s) WHERE EXISTS (SELECT FROM chosen)) woken);
