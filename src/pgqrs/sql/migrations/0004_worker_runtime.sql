-- Version 4: the worker runtime. A message keeps the error of its last failed attempt while it
-- waits for a retry, and a dead letter keeps it in the archive (bounded by the runtime, traceback
-- included). Adding a nullable column without a default rewrites nothing: instant on any size.

ALTER TABLE {schema}.pgqrs_messages ADD COLUMN last_error text;
ALTER TABLE {schema}.pgqrs_archive ADD COLUMN last_error text;

-- The dequeue returns the new column (a function's result type cannot change in place). Plans as
-- in version 3: see there why every SET clause is needed.
DROP FUNCTION {schema}.pgqrs_dequeue(bigint, bigint, integer, double precision, text);

CREATE FUNCTION {schema}.pgqrs_dequeue(
    p_queue_id bigint, p_worker_id bigint, p_limit integer, p_lock_time double precision,
    p_message_type text
) RETURNS TABLE (
    id bigint, payload jsonb, enqueued_at timestamptz, vt timestamptz, read_ct integer,
    dequeued_at timestamptz, last_error text
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
                      m.last_error, c.vt AS visible_since
        )
        SELECT l.id, l.payload, l.enqueued_at, l.vt, l.read_ct, l.dequeued_at, l.last_error
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
                      m.last_error, c.vt AS visible_since
        )
        SELECT l.id, l.payload, l.enqueued_at, l.vt, l.read_ct, l.dequeued_at, l.last_error
        FROM leased l ORDER BY l.visible_since, l.id;
    END IF;
END
$function$;
