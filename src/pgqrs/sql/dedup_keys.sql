-- Queries on pgqrs_dedup_keys: the keys acknowledged within their queue's dedup window
-- (migration 0009). Written by the keyed acknowledgements (archive_move_keyed and the
-- message_*_keyed statements), read by pgqrs_enqueue_keyed.

-- name: dedup_key_purge :one
-- Remove up to `limit` expired reservations, oldest first (the expires_at index), skipping rows
-- an acknowledgement is overwriting: one short statement per batch, whatever the backlog.
WITH expired AS (
    SELECT queue_id, dedup_key FROM {schema}.pgqrs_dedup_keys
    WHERE expires_at <= now()
    ORDER BY expires_at LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), deleted AS (
    DELETE FROM {schema}.pgqrs_dedup_keys k USING expired
    WHERE k.queue_id = expired.queue_id AND k.dedup_key = expired.dedup_key
    RETURNING 1
)
SELECT count(*) FROM deleted;

-- name: dedup_key_count_by_queue :one
-- Keys a queue holds reserved now (expired ones not yet purged are free already).
SELECT count(*) FROM {schema}.pgqrs_dedup_keys
WHERE queue_id = %(queue_id)s AND expires_at > now();
