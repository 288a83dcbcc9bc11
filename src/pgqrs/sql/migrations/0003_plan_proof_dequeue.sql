-- Version 3: a dequeue whose plan does not depend on statistics, an index for the payload
-- "type" filter, and archive counts kept as they change.

-- The lease. With statistics gathered before a queue's backlog arrived, the planner believes
-- `queue_id = X` matches a handful of rows and may read the whole backlog through a bitmap scan
-- and sort it on every call (quadratic drains). A function's SET clauses hold only while it
-- runs: with sequential and bitmap scans and sorts off, an ordered index scan that stops after
-- `p_limit` rows is the one plan left (the final sort of the leased rows costs the same in
-- every plan). jit is off because a disabled path's cost would otherwise switch JIT on.
-- plpgsql keeps each statement's plan for the connection, so the SET does not cost a plan.
CREATE FUNCTION {schema}.pgqrs_dequeue(
    p_queue_id bigint, p_worker_id bigint, p_limit integer, p_lock_time double precision,
    p_message_type text
) RETURNS TABLE (
    id bigint, payload jsonb, enqueued_at timestamptz, vt timestamptz, read_ct integer,
    dequeued_at timestamptz
)
LANGUAGE plpgsql
SET enable_seqscan = off SET enable_bitmapscan = off SET enable_sort = off SET jit = off
AS $function$
#variable_conflict use_column
BEGIN
    IF p_message_type IS NULL THEN
        RETURN QUERY
        WITH candidates AS (
            SELECT m.id, m.vt FROM {schema}.pgqrs_messages m
            WHERE m.queue_id = p_queue_id AND m.vt <= now()
            ORDER BY m.vt, m.id
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED
        ), leased AS (
            UPDATE {schema}.pgqrs_messages m
            SET vt = now() + make_interval(secs => p_lock_time), read_ct = m.read_ct + 1,
                dequeued_at = now(), worker_id = p_worker_id
            FROM candidates c
            WHERE m.id = c.id
            RETURNING m.id, m.payload, m.enqueued_at, m.vt, m.read_ct, m.dequeued_at,
                      c.vt AS visible_since
        )
        SELECT l.id, l.payload, l.enqueued_at, l.vt, l.read_ct, l.dequeued_at
        FROM leased l ORDER BY l.visible_since, l.id;
    ELSE
        -- The queue and the type as one key, the first column of pgqrs_messages_type_idx:
        -- `queue_id = X` would let the planner walk the whole queue in pgqrs_messages_dequeue_idx
        -- and test each payload (the backlog of other types); this leaves it no such plan.
        RETURN QUERY
        WITH candidates AS (
            SELECT m.id, m.vt FROM {schema}.pgqrs_messages m
            WHERE m.payload ? 'type'
              AND m.queue_id::text || ':' || (m.payload ->> 'type') = p_queue_id::text || ':' || p_message_type
              AND m.vt <= now()
            ORDER BY m.vt, m.id
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED
        ), leased AS (
            UPDATE {schema}.pgqrs_messages m
            SET vt = now() + make_interval(secs => p_lock_time), read_ct = m.read_ct + 1,
                dequeued_at = now(), worker_id = p_worker_id
            FROM candidates c
            WHERE m.id = c.id
            RETURNING m.id, m.payload, m.enqueued_at, m.vt, m.read_ct, m.dequeued_at,
                      c.vt AS visible_since
        )
        SELECT l.id, l.payload, l.enqueued_at, l.vt, l.read_ct, l.dequeued_at
        FROM leased l ORDER BY l.visible_since, l.id;
    END IF;
END
$function$;

-- The filtered dequeue's index: queue id and type as one key (see pgqrs_dequeue), then
-- visibility order. Payloads without a "type" key are not in it: they cost it nothing.
CREATE INDEX pgqrs_messages_type_idx ON {schema}.pgqrs_messages
    ((queue_id::text || ':' || (payload ->> 'type')), vt, id) WHERE payload ? 'type';

-- Archive counts per queue, so metrics do not count the archive. Every statement that adds or
-- removes archive records adds its delta to the row of its own shard (the server process id
-- modulo 16): concurrent consumers rarely wait on one counter row, and a queue's count is the
-- sum of its rows (a shard may go negative).
CREATE TABLE {schema}.pgqrs_archive_counts (
    queue_id bigint NOT NULL,
    shard integer NOT NULL,
    archived bigint NOT NULL DEFAULT 0,
    dead_letters bigint NOT NULL DEFAULT 0,
    CONSTRAINT pgqrs_archive_counts_pkey PRIMARY KEY (queue_id, shard),
    CONSTRAINT pgqrs_archive_counts_queue_id_fkey FOREIGN KEY (queue_id)
        REFERENCES {schema}.pgqrs_queues (id) ON DELETE CASCADE
) WITH (fillfactor = 50);

-- Archiving waits while the existing records are counted, so the counts start exact.
LOCK TABLE {schema}.pgqrs_archive IN SHARE MODE;
INSERT INTO {schema}.pgqrs_archive_counts (queue_id, shard, archived, dead_letters)
SELECT queue_id, 0, count(*), count(*) FILTER (WHERE dead_letter_reason IS NOT NULL)
FROM {schema}.pgqrs_archive GROUP BY queue_id;
