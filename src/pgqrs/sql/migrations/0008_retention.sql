-- Version 8: archive retention, and the archive on daily partitions as an install option.
-- Nothing here changes an existing table: an upgrade only adds functions, at once on any size.
--
-- A partitioned archive (`archive_partitioning: daily`) is range-partitioned by archived_at: a
-- partition per UTC day named pgqrs_archive_pYYYYMMDD, plus pgqrs_archive_default, which takes
-- whatever no day partition covers (archiving never fails for want of a partition), and the dead
-- letters kept when their day is dropped. Its primary key is (id, archived_at): a partitioned
-- table's unique keys must hold the partition key. No foreign key references archive ids.
-- The DDL runs inside these functions so that it is one statement for the caller: no session
-- state, safe behind a transaction pooler. lock_timeout bounds how long a partition change may
-- queue behind a long reader of the archive (every later query would queue behind it): it fails
-- instead, and the runtime tries again at its next round.

-- Daily partitions from today (UTC) to `p_days_ahead` days ahead; returns how many it created
-- (0 on an unpartitioned archive). Rows the default partition holds for a new day move into it.
CREATE FUNCTION {schema}.pgqrs_archive_partition(p_days_ahead integer) RETURNS integer
LANGUAGE plpgsql SET lock_timeout = '5s'
AS $function$
DECLARE
    v_parent regclass := '{schema}.pgqrs_archive'::regclass;
    v_schema text;
    v_day date;
    v_name text;
    v_created integer := 0;
BEGIN
    IF (SELECT relkind FROM pg_catalog.pg_class WHERE oid = v_parent) <> 'p' THEN
        RETURN 0;
    END IF;
    v_schema := (SELECT relnamespace::regnamespace::text FROM pg_catalog.pg_class WHERE oid = v_parent);
    -- Concurrent runtimes take turns (transaction-scoped: nothing outlives the call).
    PERFORM pg_advisory_xact_lock(hashtextextended('pgqrs archive partitions ' || v_parent::oid::text, 0));
    FOR v_day IN
        SELECT d::date FROM generate_series((now() AT TIME ZONE 'UTC')::date,
                                            (now() AT TIME ZONE 'UTC')::date + p_days_ahead, '1 day') d
    LOOP
        v_name := 'pgqrs_archive_p' || to_char(v_day, 'YYYYMMDD');
        CONTINUE WHEN to_regclass(v_schema || '.' || quote_ident(v_name)) IS NOT NULL;
        -- A new partition's range may not hold rows of the default partition: move them first,
        -- with the default partition locked against inserts until the ATTACH (an archive write
        -- landing there meanwhile would make the ATTACH fail).
        EXECUTE format('CREATE TABLE %s.%I (LIKE %s) WITH (autovacuum_vacuum_scale_factor = 0.02)',
                       v_schema, v_name, v_parent);
        EXECUTE format('LOCK TABLE %s.pgqrs_archive_default IN SHARE ROW EXCLUSIVE MODE', v_schema);
        EXECUTE format(
            'WITH moved AS (DELETE FROM %1$s.pgqrs_archive_default WHERE archived_at >= %3$L AND archived_at < %4$L RETURNING *) '
            'INSERT INTO %1$s.%2$I SELECT * FROM moved',
            v_schema, v_name, (v_day::timestamp AT TIME ZONE 'UTC'), ((v_day + 1)::timestamp AT TIME ZONE 'UTC'));
        EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s.%I FOR VALUES FROM (%L) TO (%L)',
                       v_parent, v_schema, v_name,
                       (v_day::timestamp AT TIME ZONE 'UTC'), ((v_day + 1)::timestamp AT TIME ZONE 'UTC'));
        v_created := v_created + 1;
    END LOOP;
    RETURN v_created;
END
$function$;

-- Drop the oldest day partition that ends at or before `p_before`; returns the records removed,
-- or NULL when no partition is due (and on an unpartitioned archive). Its dead letters move to
-- the default partition unless `p_dead_letters`. One partition per call: each call is one short
-- transaction. The kept counts (pgqrs_archive_counts) lose what was dropped.
CREATE FUNCTION {schema}.pgqrs_archive_drop_partition(p_before timestamptz, p_dead_letters boolean)
RETURNS bigint
LANGUAGE plpgsql SET lock_timeout = '5s'
AS $function$
DECLARE
    v_parent regclass := '{schema}.pgqrs_archive'::regclass;
    v_schema text;
    v_name text;
    v_removed bigint;
BEGIN
    IF (SELECT relkind FROM pg_catalog.pg_class WHERE oid = v_parent) <> 'p' THEN
        RETURN NULL;
    END IF;
    v_schema := (SELECT relnamespace::regnamespace::text FROM pg_catalog.pg_class WHERE oid = v_parent);
    PERFORM pg_advisory_xact_lock(hashtextextended('pgqrs archive partitions ' || v_parent::oid::text, 0));
    SELECT c.relname INTO v_name
    FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = v_parent AND c.relname ~ '^pgqrs_archive_p[0-9]+$'
      AND (to_date(substr(c.relname, 16), 'YYYYMMDD') + 1)::timestamp AT TIME ZONE 'UTC' <= p_before
    ORDER BY c.relname LIMIT 1;
    IF v_name IS NULL THEN
        RETURN NULL;
    END IF;
    -- Counted before the DETACH, whose lock on the whole archive holds every acknowledgement
    -- up until the transaction ends: a past day takes no more rows (SHARE keeps it so).
    EXECUTE format('LOCK TABLE %s.%I IN SHARE MODE', v_schema, v_name);
    EXECUTE format(
        'WITH gone AS (SELECT queue_id, count(*) AS archived, count(*) FILTER (WHERE dead_letter_reason IS NOT NULL) AS dead '
        '              FROM %1$s.%2$I WHERE %3$L OR dead_letter_reason IS NULL GROUP BY queue_id), '
        '     counted AS (INSERT INTO %1$s.pgqrs_archive_counts AS counts (queue_id, shard, archived, dead_letters) '
        '                 SELECT queue_id, pg_backend_pid() %% 16, -archived, -dead FROM gone '
        '                 ON CONFLICT (queue_id, shard) DO UPDATE '
        '                 SET archived = counts.archived + excluded.archived, '
        '                     dead_letters = counts.dead_letters + excluded.dead_letters) '
        'SELECT coalesce(sum(archived), 0) FROM gone',
        v_schema, v_name, p_dead_letters) INTO v_removed;
    EXECUTE format('ALTER TABLE %s DETACH PARTITION %s.%I', v_parent, v_schema, v_name);
    -- Detached, its range is no partition's: kept dead letters go to the default partition.
    IF NOT p_dead_letters THEN
        EXECUTE format(
            'INSERT INTO %s OVERRIDING SYSTEM VALUE SELECT * FROM %s.%I WHERE dead_letter_reason IS NOT NULL',
            v_parent, v_schema, v_name);
    END IF;
    EXECUTE format('DROP TABLE %s.%I', v_schema, v_name);
    RETURN v_removed;
END
$function$;

-- Put an empty archive on daily partitions (pgqrs install with archive_partitioning: daily).
-- Returns false when it already is. An archive holding records is refused: converting one would
-- rewrite it under an exclusive lock. The table is created anew, as versions 1 to 8 leave it
-- (the indexes of versions 1 and 5, the queue foreign key, no worker foreign key), and its ids
-- continue where the old table's ended. Grants on the old table go with it: grant again
-- (`pgqrs roles`) after converting.
CREATE FUNCTION {schema}.pgqrs_archive_partition_by_day(p_days_ahead integer) RETURNS boolean
LANGUAGE plpgsql
AS $function$
DECLARE
    v_next bigint;
BEGIN
    IF (SELECT relkind FROM pg_catalog.pg_class WHERE oid = '{schema}.pgqrs_archive'::regclass) = 'p' THEN
        RETURN false;
    END IF;
    LOCK TABLE {schema}.pgqrs_archive IN ACCESS EXCLUSIVE MODE;
    -- A concurrent install may have converted it while we waited for the lock.
    IF (SELECT relkind FROM pg_catalog.pg_class WHERE oid = '{schema}.pgqrs_archive'::regclass) = 'p' THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT FROM {schema}.pgqrs_archive) THEN
        RAISE EXCEPTION 'the archive holds records: only an empty archive is put on partitions'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    v_next := coalesce(pg_sequence_last_value(pg_get_serial_sequence('{schema}.pgqrs_archive', 'id')), 0) + 1;
    DROP TABLE {schema}.pgqrs_archive;
    CREATE TABLE {schema}.pgqrs_archive (
        id bigint GENERATED ALWAYS AS IDENTITY,
        original_msg_id bigint NOT NULL,
        queue_id bigint NOT NULL,
        payload jsonb NOT NULL,
        enqueued_at timestamptz NOT NULL,
        dequeued_at timestamptz,
        read_ct integer NOT NULL,
        archived_at timestamptz NOT NULL DEFAULT now(),
        processing_duration bigint,
        worker_id bigint,
        dead_letter_reason text,
        last_error text,
        CONSTRAINT pgqrs_archive_pkey PRIMARY KEY (id, archived_at),
        CONSTRAINT pgqrs_archive_queue_id_fkey FOREIGN KEY (queue_id)
            REFERENCES {schema}.pgqrs_queues (id) ON DELETE CASCADE
    ) PARTITION BY RANGE (archived_at);
    EXECUTE format('ALTER TABLE {schema}.pgqrs_archive ALTER COLUMN id RESTART WITH %s', v_next);
    CREATE INDEX pgqrs_archive_queue_id_idx ON {schema}.pgqrs_archive (queue_id, id);
    CREATE INDEX pgqrs_archive_original_msg_id_idx ON {schema}.pgqrs_archive (original_msg_id);
    CREATE INDEX pgqrs_archive_dead_letters_idx ON {schema}.pgqrs_archive (queue_id, id)
        WHERE dead_letter_reason IS NOT NULL;
    CREATE INDEX pgqrs_archive_archived_at_idx ON {schema}.pgqrs_archive (queue_id, archived_at);
    CREATE TABLE {schema}.pgqrs_archive_default PARTITION OF {schema}.pgqrs_archive DEFAULT
        WITH (autovacuum_vacuum_scale_factor = 0.02);
    PERFORM {schema}.pgqrs_archive_partition(p_days_ahead);
    RETURN true;
END
$function$;
