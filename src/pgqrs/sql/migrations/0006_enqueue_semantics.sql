-- Version 6: priorities and idempotency keys. New columns with a constant default (or none)
-- rewrite nothing: instant on any size. The new indexes are partial and empty at first (every
-- existing message is at priority 0, without a key): built at once under this migration's lock.

ALTER TABLE {schema}.pgqrs_messages ADD COLUMN priority integer NOT NULL DEFAULT 0;
ALTER TABLE {schema}.pgqrs_messages ADD COLUMN dedup_key text;

-- At most one live message per queue and key: the unique index decides under concurrency (an
-- enqueue waits for a concurrent one of the same key to commit or roll back). Partial: messages
-- without a key cost it nothing. Acknowledging deletes the row, which frees the key.
CREATE UNIQUE INDEX pgqrs_messages_dedup_idx ON {schema}.pgqrs_messages (queue_id, dedup_key)
    WHERE dedup_key IS NOT NULL;

-- Highest priority first, then visibility order. Priorities are 0 (the default) to 100.
-- Messages above 0 get indexes of their own, (queue, priority DESC, vt, id) and the same for the
-- payload-type filter; every message stays in the indexes of version 5, so a queue that uses no
-- priority pays only their predicates, and every query that reads a queue in visibility order
-- (the dashboard, metrics) is unchanged. The dequeue reads each priority present as a range of
-- its own (see pgqrs_dequeue), so vt stays a range bound inside a priority. Both are empty after
-- this migration (every existing message is at 0): built at once.
CREATE INDEX pgqrs_messages_priority_idx ON {schema}.pgqrs_messages (queue_id, priority DESC, vt, id)
    WHERE priority > 0;
CREATE INDEX pgqrs_messages_type_priority_idx ON {schema}.pgqrs_messages
    ((queue_id::text || ':' || (payload ->> 'type')), priority DESC, vt, id)
    WHERE priority > 0 AND payload ? 'type';

DROP FUNCTION {schema}.pgqrs_dequeue(bigint, bigint, integer, double precision, text);

-- The lease, highest priority first. One index (queue, priority DESC, vt, id) cannot serve
-- "highest priority among the visible rows" with one range scan: after the priority, vt is no
-- longer a range bound, and an idle queue with a million delayed messages at a high priority
-- would read them all on every call. So the function walks the priorities above 0 present,
-- highest first, with one index descent each (a loose index scan: the first entry of the next
-- priority down is also that priority's earliest vt), skips a priority whose earliest message is
-- not visible without reading more, and selects (locking) from each with an ordered range scan
-- (vt <= now()) until the batch is full. Priority 0 comes last, from the index of every message
-- in visibility order: the prioritized rows it meets there are skipped, and only those another
-- dequeue is leasing or that became visible meanwhile can be visible (the walk took the others).
-- Cost: one descent per priority present above the ones leased from, plus the rows leased;
-- priorities are bounded (0..100, checked by the client): O(batch) whatever the backlog. A queue
-- that uses no priority: one descent of an empty index more than version 4. Then, as in version
-- 4, one update by primary key of the ids in order, one generic plan per statement and
-- connection, and SET clauses that leave each statement only its ordered index scan whatever the
-- statistics say (see versions 3 and 4).
CREATE FUNCTION {schema}.pgqrs_dequeue(
    p_queue_id bigint, p_worker_id bigint, p_limit integer, p_lock_time double precision,
    p_message_type text
) RETURNS TABLE (
    id bigint, payload jsonb, enqueued_at timestamptz, vt timestamptz, read_ct integer,
    dequeued_at timestamptz, last_error text, priority integer, dedup_key text
)
LANGUAGE plpgsql
SET enable_seqscan = off SET enable_bitmapscan = off SET enable_sort = off SET jit = off
SET plan_cache_mode = force_generic_plan
AS $function$
#variable_conflict use_column
DECLARE
    leased_ids bigint[] := ARRAY[]::bigint[];  -- in delivery order
    v_key text;                      -- the type indexes' key: queue id and type
    v_level integer;                 -- the priority being leased from (above 0)
    v_earliest timestamptz;          -- its earliest vt
BEGIN
    IF p_message_type IS NULL THEN
        SELECT m.priority, m.vt INTO v_level, v_earliest FROM {schema}.pgqrs_messages m
        WHERE m.queue_id = p_queue_id AND m.priority > 0
        ORDER BY m.priority DESC, m.vt, m.id LIMIT 1;
        WHILE v_level IS NOT NULL LOOP
            IF v_earliest <= now() THEN
                leased_ids := leased_ids || ARRAY(
                    SELECT m.id FROM {schema}.pgqrs_messages m
                    WHERE m.queue_id = p_queue_id AND m.priority > 0 AND m.priority = v_level
                      AND m.vt <= now()
                    ORDER BY m.priority DESC, m.vt, m.id
                    LIMIT p_limit - cardinality(leased_ids)
                    FOR UPDATE SKIP LOCKED
                );
                EXIT WHEN cardinality(leased_ids) >= p_limit;
            END IF;
            -- The next priority down; no row sets both to NULL.
            SELECT m.priority, m.vt INTO v_level, v_earliest FROM {schema}.pgqrs_messages m
            WHERE m.queue_id = p_queue_id AND m.priority > 0 AND m.priority < v_level
            ORDER BY m.priority DESC, m.vt, m.id LIMIT 1;
        END LOOP;
        IF cardinality(leased_ids) < p_limit THEN
            leased_ids := leased_ids || ARRAY(
                SELECT m.id FROM {schema}.pgqrs_messages m
                WHERE m.queue_id = p_queue_id AND m.vt <= now() AND m.priority = 0
                ORDER BY m.vt, m.id
                LIMIT p_limit - cardinality(leased_ids)
                FOR UPDATE SKIP LOCKED
            );
        END IF;
    ELSE
        -- The queue and the type as one key, the first column of the type indexes: `queue_id =
        -- X` would let the planner walk the whole queue in pgqrs_messages_dequeue_idx and test
        -- each payload (the backlog of other types); this leaves it no such plan.
        v_key := p_queue_id::text || ':' || p_message_type;
        SELECT m.priority, m.vt INTO v_level, v_earliest FROM {schema}.pgqrs_messages m
        WHERE m.priority > 0 AND m.payload ? 'type'
          AND m.queue_id::text || ':' || (m.payload ->> 'type') = v_key
        ORDER BY m.priority DESC, m.vt, m.id LIMIT 1;
        WHILE v_level IS NOT NULL LOOP
            IF v_earliest <= now() THEN
                leased_ids := leased_ids || ARRAY(
                    SELECT m.id FROM {schema}.pgqrs_messages m
                    WHERE m.priority > 0 AND m.payload ? 'type'
                      AND m.queue_id::text || ':' || (m.payload ->> 'type') = v_key
                      AND m.priority = v_level AND m.vt <= now()
                    ORDER BY m.priority DESC, m.vt, m.id
                    LIMIT p_limit - cardinality(leased_ids)
                    FOR UPDATE SKIP LOCKED
                );
                EXIT WHEN cardinality(leased_ids) >= p_limit;
            END IF;
            SELECT m.priority, m.vt INTO v_level, v_earliest FROM {schema}.pgqrs_messages m
            WHERE m.priority > 0 AND m.payload ? 'type'
              AND m.queue_id::text || ':' || (m.payload ->> 'type') = v_key
              AND m.priority < v_level
            ORDER BY m.priority DESC, m.vt, m.id LIMIT 1;
        END LOOP;
        IF cardinality(leased_ids) < p_limit THEN
            leased_ids := leased_ids || ARRAY(
                SELECT m.id FROM {schema}.pgqrs_messages m
                WHERE m.payload ? 'type'
                  AND m.queue_id::text || ':' || (m.payload ->> 'type') = v_key
                  AND m.vt <= now() AND m.priority = 0
                ORDER BY m.vt, m.id
                LIMIT p_limit - cardinality(leased_ids)
                FOR UPDATE SKIP LOCKED
            );
        END IF;
    END IF;
    -- In delivery order (the candidates' position in leased_ids).
    RETURN QUERY
    WITH leased AS (
        UPDATE {schema}.pgqrs_messages m
        SET vt = now() + make_interval(secs => p_lock_time), read_ct = m.read_ct + 1,
            dequeued_at = now(), worker_id = p_worker_id
        FROM unnest(leased_ids) WITH ORDINALITY AS candidate (id, position)
        WHERE m.id = candidate.id
        RETURNING m.id, m.payload, m.enqueued_at, m.vt, m.read_ct, m.dequeued_at, m.last_error,
                  m.priority, m.dedup_key, candidate.position
    )
    SELECT l.id, l.payload, l.enqueued_at, l.vt, l.read_ct, l.dequeued_at, l.last_error, l.priority,
           l.dedup_key
    FROM leased l ORDER BY l.position;
END
$function$;
