-- Archive retention: purging records by age in bounded batches, and the daily partitions of a
-- partitioned archive (their DDL is in the functions of migration 0008).

-- name: retention_elect :one
-- One purging runtime at a time, per batch: transaction-scoped, so nothing outlives the batch's
-- transaction (safe behind a transaction pooler). Another holder: this runtime skips its round.
SELECT pg_try_advisory_xact_lock(hashtextextended('pgqrs archive retention ' || %(schema)s, 0));

-- name: retention_partitioned :one
-- Whether the archive is on partitions (catalog only).
SELECT EXISTS (SELECT FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = %(schema)s AND c.relname = 'pgqrs_archive' AND c.relkind = 'p');

-- name: retention_queue_ids :many
SELECT id FROM {schema}.pgqrs_queues ORDER BY id;

-- name: retention_purge_batch :one
-- At most `limit` of a queue's records archived before the cutoff, oldest first (a range of
-- pgqrs_archive_archived_at_idx), dead letters only when asked. Rows another transaction holds
-- are skipped, never waited for. The kept counts lose what goes (see archive_delete).
WITH doomed AS (
    SELECT id, archived_at FROM {schema}.pgqrs_archive
    WHERE queue_id = %(queue_id)s AND archived_at < now() - make_interval(secs => %(older_than)s)
      AND (%(dead_letters)s OR dead_letter_reason IS NULL)
    ORDER BY archived_at LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), deleted AS (
    DELETE FROM {schema}.pgqrs_archive a USING doomed d
    WHERE a.id = d.id AND a.archived_at = d.archived_at
    RETURNING a.queue_id, a.dead_letter_reason
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

-- name: retention_purge_default_batch :one
-- retention_purge_batch on the default partition of a partitioned archive only: what the day
-- partitions dropped did not take (records archived while no day partition covered them, and
-- the dead letters kept). The runtime deletes no row of a day partition: it drops whole days.
WITH doomed AS (
    SELECT id, archived_at FROM {schema}.pgqrs_archive_default
    WHERE queue_id = %(queue_id)s AND archived_at < now() - make_interval(secs => %(older_than)s)
      AND (%(dead_letters)s OR dead_letter_reason IS NULL)
    ORDER BY archived_at LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), deleted AS (
    DELETE FROM {schema}.pgqrs_archive_default a USING doomed d
    WHERE a.id = d.id AND a.archived_at = d.archived_at
    RETURNING a.queue_id, a.dead_letter_reason
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

-- name: retention_drop_partition :one
-- The oldest day partition wholly before the cutoff, dropped (NULL: none is due).
SELECT {schema}.pgqrs_archive_drop_partition(now() - make_interval(secs => %(older_than)s), %(dead_letters)s);

-- name: retention_partition_ahead :one
SELECT {schema}.pgqrs_archive_partition(%(days_ahead)s);

-- name: retention_partition_by_day :one
SELECT {schema}.pgqrs_archive_partition_by_day(%(days_ahead)s);
