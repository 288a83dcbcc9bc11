-- Version 6: priorities and idempotency keys. New columns with a constant default (or none)
-- rewrite nothing: instant on any size. The two new indexes are built under this migration's
-- lock (plain CREATE INDEX: a migration runs in one transaction).

ALTER TABLE {schema}.pgqrs_messages ADD COLUMN priority integer NOT NULL DEFAULT 0;
ALTER TABLE {schema}.pgqrs_messages ADD COLUMN dedup_key text;

-- At most one live message per queue and key: the unique index decides under concurrency (an
-- enqueue waits for a concurrent one of the same key to commit or roll back). Partial: messages
-- without a key cost it nothing. Acknowledging deletes the row, which frees the key.
CREATE UNIQUE INDEX pgqrs_messages_dedup_idx ON {schema}.pgqrs_messages (queue_id, dedup_key)
    WHERE dedup_key IS NOT NULL;

-- Highest priority first, then visibility order. Two partial indexes, each message in one:
-- priority 0 (the default) keeps the index it had before priorities existed, so a queue that
-- uses none pays nothing for them (no wider index entry, the same scans); the other priorities
-- get (queue, priority DESC, vt, id). The dequeue reads each priority present as a range of its
-- own (see pgqrs_dequeue), so vt stays a range bound inside a priority.
DROP INDEX {schema}.pgqrs_messages_dequeue_idx;
CREATE INDEX pgqrs_messages_dequeue_idx ON {schema}.pgqrs_messages (queue_id, vt, id) WHERE priority = 0;
CREATE INDEX pgqrs_messages_priority_idx ON {schema}.pgqrs_messages (queue_id, priority DESC, vt, id)
    WHERE priority <> 0;
DROP INDEX {schema}.pgqrs_messages_type_idx;
CREATE INDEX pgqrs_messages_type_idx ON {schema}.pgqrs_messages
    ((queue_id::text || ':' || (payload ->> 'type')), priority DESC, vt, id) WHERE payload ? 'type';

DROP FUNCTION {schema}.pgqrs_dequeue(bigint, bigint, integer, double precision, text);

-- The lease, highest priority first. One index (queue, priority DESC, vt, id) cannot serve
-- "highest priority among the visible rows" with one range scan: after the priority, vt is no
-- longer a range bound, and an idle queue with a million delayed messages at a high priority
-- would read them all on every call. So the function walks the priorities present, highest
-- first, with one index descent each (a loose index scan: the first entry of the next priority
-- down is also that priority's earliest vt), skips a priority whose earliest message is not
-- visible without reading more, and selects (locking) from each with an ordered range scan
-- (vt <= now()) until the batch is full; priority 0 comes from its own index, between the
-- positive and the negative ones. Cost: one descent per priority present above the ones leased
-- from, plus the rows leased; priorities are bounded (-100..100, checked by the client), so that
-- is O(batch) whatever the backlog. A queue that uses no priority: one descent of an empty index
-- more than version 4. Then, as in version 4, one update by primary key of the ids in order, one
-- generic plan per statement and connection, and SET clauses that leave each statement only its
-- ordered index scan whatever the statistics say (see versions 3 and 4).
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
    v_key text;                      -- the type index's key: queue id and type
    v_level integer;                 -- the priority being leased from (not 0 without a type)
    v_earliest timestamptz;          -- its earliest vt
    v_zero_done boolean := false;    -- priority 0 was leased from
BEGIN
    IF p_message_type IS NULL THEN
        SELECT m.priority, m.vt INTO v_level, v_earliest FROM {schema}.pgqrs_messages m
        WHERE m.queue_id = p_queue_id AND m.priority <> 0
        ORDER BY m.priority DESC, m.vt, m.id LIMIT 1;
        LOOP
            IF NOT v_zero_done AND (v_level IS NULL OR v_level < 0) THEN
                -- Priority 0, from its own index (the literal 0 selects it).
                v_zero_done := true;
                leased_ids := leased_ids || ARRAY(
                    SELECT m.id FROM {schema}.pgqrs_messages m
                    WHERE m.queue_id = p_queue_id AND m.priority = 0 AND m.vt <= now()
                    ORDER BY m.vt, m.id
                    LIMIT p_limit - cardinality(leased_ids)
                    FOR UPDATE SKIP LOCKED
                );
            ELSIF v_level IS NULL THEN
                EXIT;
            ELSE
                IF v_earliest <= now() THEN
                    leased_ids := leased_ids || ARRAY(
                        SELECT m.id FROM {schema}.pgqrs_messages m
                        WHERE m.queue_id = p_queue_id AND m.priority <> 0 AND m.priority = v_level
                          AND m.vt <= now()
                        ORDER BY m.priority DESC, m.vt, m.id
                        LIMIT p_limit - cardinality(leased_ids)
                        FOR UPDATE SKIP LOCKED
                    );
                    EXIT WHEN cardinality(leased_ids) >= p_limit;
                END IF;
                -- The next priority down; no row sets both to NULL.
                SELECT m.priority, m.vt INTO v_level, v_earliest FROM {schema}.pgqrs_messages m
                WHERE m.queue_id = p_queue_id AND m.priority <> 0 AND m.priority < v_level
                ORDER BY m.priority DESC, m.vt, m.id LIMIT 1;
            END IF;
            EXIT WHEN cardinality(leased_ids) >= p_limit;
        END LOOP;
    ELSE
        -- The queue and the type as one key, the first column of pgqrs_messages_type_idx:
        -- `queue_id = X` would let the planner walk the whole queue in pgqrs_messages_dequeue_idx
        -- and test each payload (the backlog of other types); this leaves it no such plan. Every
        -- priority is in that one index: the same walk, priority 0 included.
        v_key := p_queue_id::text || ':' || p_message_type;
        SELECT m.priority, m.vt INTO v_level, v_earliest FROM {schema}.pgqrs_messages m
        WHERE m.payload ? 'type' AND m.queue_id::text || ':' || (m.payload ->> 'type') = v_key
        ORDER BY m.priority DESC, m.vt, m.id LIMIT 1;
        WHILE v_level IS NOT NULL LOOP
            IF v_earliest <= now() THEN
                leased_ids := leased_ids || ARRAY(
                    SELECT m.id FROM {schema}.pgqrs_messages m
                    WHERE m.payload ? 'type' AND m.queue_id::text || ':' || (m.payload ->> 'type') = v_key
                      AND m.priority = v_level AND m.vt <= now()
                    ORDER BY m.priority DESC, m.vt, m.id
                    LIMIT p_limit - cardinality(leased_ids)
                    FOR UPDATE SKIP LOCKED
                );
                EXIT WHEN cardinality(leased_ids) >= p_limit;
            END IF;
            SELECT m.priority, m.vt INTO v_level, v_earliest FROM {schema}.pgqrs_messages m
            WHERE m.payload ? 'type' AND m.queue_id::text || ':' || (m.payload ->> 'type') = v_key
              AND m.priority < v_level
            ORDER BY m.priority DESC, m.vt, m.id LIMIT 1;
        END LOOP;
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
