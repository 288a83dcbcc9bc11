-- Version 9: dedup windows. A queue's dedup_window keeps the key of each message acknowledged
-- (archived, deleted or dead-lettered by its lease holder) reserved for that long: a retried
-- enqueue of the key within the window writes nothing and gets the original message's id. 0
-- (the default) keeps version 6's contract: once acknowledged, the key is free again.
-- Per queue, not per producer: the acknowledgement reserves the key, so producers and
-- consumers must agree on one value, read by the statements themselves (never cached).

ALTER TABLE {schema}.pgqrs_queues ADD COLUMN dedup_window interval NOT NULL DEFAULT '0'
    CONSTRAINT pgqrs_queues_dedup_window_check CHECK (dedup_window >= interval '0');

-- One row per key acknowledged within its queue's window: written by the acknowledgement of a
-- keyed message in the same statement (never for a message without a key, nor on a queue
-- without a window), read by the keyed enqueue, removed when expired by the runtime's
-- maintenance (or overwritten by the next acknowledgement of the key). A row's columns are what
-- an enqueue returns for the key: the original message's id, its enqueue time, deliveries and
-- priority, and when it was acknowledged.
CREATE TABLE {schema}.pgqrs_dedup_keys (
    queue_id bigint NOT NULL REFERENCES {schema}.pgqrs_queues (id) ON DELETE CASCADE,
    dedup_key text NOT NULL,
    message_id bigint NOT NULL,
    enqueued_at timestamptz NOT NULL,
    read_ct integer NOT NULL,
    priority integer NOT NULL,
    acknowledged_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (queue_id, dedup_key)
);
-- The purge takes the oldest expired rows first, a bounded batch at a time.
CREATE INDEX pgqrs_dedup_keys_expires_at_idx ON {schema}.pgqrs_dedup_keys (expires_at);

-- The keyed enqueue on a queue with a dedup window (without one, producers run the single
-- statement message_enqueue_keyed: no key is reserved, so no race; a window set to 0 frees
-- every key at once, here too). A function because it needs a new
-- snapshot after its insert, which one statement cannot take: an acknowledgement that commits
-- after the insert's snapshot, but before its unique check reaches the key, frees the live
-- message's index entry (so the insert writes the key again) and reserves the key in a row the
-- insert's snapshot does not see. The check after the insert sees that row (read committed:
-- each statement here has a snapshot of its own); the insert, in a block of its own (a
-- subtransaction), is then undone and run again, and this time excludes the key. Undoing needs
-- no DELETE privilege: the producer role has none.
--   1. Write each row whose key is neither reserved nor live; the messages' unique index
--      decides between concurrent enqueues, in key order (no deadlock between batches).
--   2. Wake the queue's workers if anything was written (p_channel NULL: do not).
--   3. Return the written rows (fresh, payload NULL: the caller has it), then the live message
--      of each other key (fresh false, payload as text), then the reservation of each other key
--      without a live message (acknowledged_at set, payload NULL). A key in none of them was
--      freed meanwhile (acknowledged without a window): the caller asks again.
-- Under REPEATABLE READ or SERIALIZABLE (a caller's transaction) every statement shares one
-- snapshot and the check cannot see the race; read committed is PostgreSQL's default.
CREATE FUNCTION {schema}.pgqrs_enqueue_keyed(
    p_queue_id bigint, p_payloads text[], p_keys text[], p_at timestamptz, p_delay double precision,
    p_priority integer, p_trace_context text, p_channel text, p_wake text
) RETURNS TABLE (
    id bigint, payload text, enqueued_at timestamptz, vt timestamptz, read_ct integer,
    dequeued_at timestamptz, worker_id bigint, last_error text, priority integer, dedup_key text,
    fresh boolean, acknowledged_at timestamptz
)
LANGUAGE plpgsql
AS $function$
#variable_conflict use_column
DECLARE
    written bigint[];  -- ids of the rows this call wrote
    windowed boolean;  -- reservations count only while the queue has a window
BEGIN
    SELECT q.dedup_window > interval '0' INTO windowed FROM {schema}.pgqrs_queues q WHERE q.id = p_queue_id;
    windowed := coalesce(windowed, false);
    -- Each undone attempt saw one more key of the batch reserved, which every later attempt
    -- leaves out: at most one attempt per key, plus the last.
    FOR attempt IN 1..coalesce(cardinality(p_keys), 0) + 2 LOOP
        IF attempt > coalesce(cardinality(p_keys), 0) + 1 THEN
            RAISE EXCEPTION 'pgqrs: dedup keys kept changing hands; nothing was written';
        END IF;
        BEGIN
            WITH inserted AS (
                INSERT INTO {schema}.pgqrs_messages AS m (queue_id, payload, vt, priority, dedup_key,
                                                          trace_context)
                SELECT p_queue_id, input.payload::jsonb,
                       coalesce(p_at, now() + make_interval(secs => p_delay)), p_priority,
                       input.dedup_key, p_trace_context
                FROM unnest(p_payloads, p_keys) WITH ORDINALITY AS input (payload, dedup_key, position)
                WHERE input.dedup_key IS NULL OR NOT windowed OR NOT EXISTS (
                    SELECT FROM {schema}.pgqrs_dedup_keys k
                    WHERE k.queue_id = p_queue_id AND k.dedup_key = input.dedup_key
                      AND k.expires_at > now()
                )
                ORDER BY input.dedup_key COLLATE "C", input.position
                ON CONFLICT (queue_id, dedup_key) WHERE dedup_key IS NOT NULL DO NOTHING
                RETURNING m.id, m.dedup_key
            )
            SELECT coalesce(array_agg(inserted.id), ARRAY[]::bigint[]) INTO written FROM inserted;
            IF windowed AND EXISTS (
                SELECT FROM {schema}.pgqrs_messages m JOIN {schema}.pgqrs_dedup_keys k
                    ON k.queue_id = p_queue_id AND k.dedup_key = m.dedup_key
                WHERE m.id = ANY(written) AND k.expires_at > now() AND k.message_id <> m.id
            ) THEN
                RAISE SQLSTATE 'PGQ01';  -- undo this attempt's insert (caught below)
            END IF;
            EXIT;
        EXCEPTION WHEN SQLSTATE 'PGQ01' THEN
            NULL;  -- the next attempt's snapshot sees the reservation
        END;
    END LOOP;

    IF p_channel IS NOT NULL AND cardinality(written) > 0 THEN
        PERFORM pg_notify(p_channel, p_wake);
    END IF;

    RETURN QUERY
    SELECT m.id, NULL::text, m.enqueued_at, m.vt, m.read_ct, m.dequeued_at, m.worker_id,
           m.last_error, m.priority, m.dedup_key, true, NULL::timestamptz
    FROM {schema}.pgqrs_messages m WHERE m.id = ANY(written)
    UNION ALL
    SELECT m.id, m.payload::text, m.enqueued_at, m.vt, m.read_ct, m.dequeued_at, m.worker_id,
           m.last_error, m.priority, m.dedup_key, false, NULL::timestamptz
    FROM {schema}.pgqrs_messages m
    WHERE m.queue_id = p_queue_id AND m.dedup_key = ANY(p_keys) AND m.dedup_key IS NOT NULL
      AND m.id <> ALL(written)
    UNION ALL
    SELECT k.message_id, NULL::text, k.enqueued_at, k.acknowledged_at, k.read_ct, NULL::timestamptz,
           NULL::bigint, NULL::text, k.priority, k.dedup_key, false, k.acknowledged_at
    FROM {schema}.pgqrs_dedup_keys k
    WHERE windowed AND k.queue_id = p_queue_id AND k.dedup_key = ANY(p_keys) AND k.expires_at > now()
      AND NOT EXISTS (
          SELECT FROM {schema}.pgqrs_messages m
          WHERE m.queue_id = p_queue_id AND m.dedup_key = k.dedup_key
      );
END
$function$;
