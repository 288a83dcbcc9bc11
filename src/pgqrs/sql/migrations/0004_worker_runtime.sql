-- Version 4: the worker runtime. A message keeps the error of its last failed attempt while it
-- waits for a retry, and a dead letter keeps it in the archive (bounded by the runtime, traceback
-- included). Adding a nullable column without a default rewrites nothing: instant on any size.

ALTER TABLE {schema}.pgqrs_messages ADD COLUMN last_error text;
ALTER TABLE {schema}.pgqrs_archive ADD COLUMN last_error text;

-- The dequeue returns the new column (a function's result type cannot change in place), and
-- keeps its plans: version 3 planned the statement again on every call (plpgsql's custom plans,
-- ~0.1 ms of a single dequeue), now one generic plan per connection serves every call. The
-- generic plan of version 3's join (a LIMIT it cannot see) might have hashed the whole table:
-- the lease now selects the ids (locking them), then updates them by primary key, each probed
-- once (the ids as a nested loop's outer side: no plan left that reads the table).
DROP FUNCTION {schema}.pgqrs_dequeue(bigint, bigint, integer, double precision, text);

-- SET clauses hold only while the function runs. With sequential and bitmap scans and sorts
-- off, an ordered index scan that stops after `p_limit` rows is the one plan left to select the
-- candidates, and the primary key the one way to update them (the final sort of the leased rows
-- is in every plan); jit is off because a disabled path's cost would otherwise switch JIT on.
CREATE FUNCTION {schema}.pgqrs_dequeue(
    p_queue_id bigint, p_worker_id bigint, p_limit integer, p_lock_time double precision,
    p_message_type text
) RETURNS TABLE (
    id bigint, payload jsonb, enqueued_at timestamptz, vt timestamptz, read_ct integer,
    dequeued_at timestamptz, last_error text
)
LANGUAGE plpgsql
SET enable_seqscan = off SET enable_bitmapscan = off SET enable_sort = off SET jit = off
SET plan_cache_mode = force_generic_plan
AS $function$
#variable_conflict use_column
DECLARE
    leased_ids bigint[];
BEGIN
    IF p_message_type IS NULL THEN
        leased_ids := ARRAY(
            SELECT m.id FROM {schema}.pgqrs_messages m
            WHERE m.queue_id = p_queue_id AND m.vt <= now()
            ORDER BY m.vt, m.id
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED
        );
    ELSE
        -- The queue and the type as one key, the first column of pgqrs_messages_type_idx:
        -- `queue_id = X` would let the planner walk the whole queue in pgqrs_messages_dequeue_idx
        -- and test each payload (the backlog of other types); this leaves it no such plan.
        leased_ids := ARRAY(
            SELECT m.id FROM {schema}.pgqrs_messages m
            WHERE m.payload ? 'type'
              AND m.queue_id::text || ':' || (m.payload ->> 'type') = p_queue_id::text || ':' || p_message_type
              AND m.vt <= now()
            ORDER BY m.vt, m.id
            LIMIT p_limit
            FOR UPDATE SKIP LOCKED
        );
    END IF;
    -- In the order the candidates became visible (their position in leased_ids).
    RETURN QUERY
    WITH leased AS (
        UPDATE {schema}.pgqrs_messages m
        SET vt = now() + make_interval(secs => p_lock_time), read_ct = m.read_ct + 1,
            dequeued_at = now(), worker_id = p_worker_id
        FROM unnest(leased_ids) WITH ORDINALITY AS candidate (id, position)
        WHERE m.id = candidate.id
        RETURNING m.id, m.payload, m.enqueued_at, m.vt, m.read_ct, m.dequeued_at, m.last_error,
                  candidate.position
    )
    SELECT l.id, l.payload, l.enqueued_at, l.vt, l.read_ct, l.dequeued_at, l.last_error
    FROM leased l ORDER BY l.position;
END
$function$;
