-- Schema management queries (the DDL itself is schema.sql).

-- name: admin_schema_exists :one
SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = %(schema)s);

-- name: admin_schema_state :one
-- Whether the schema exists, and whether pgqrs has recorded a version in it (catalog only: no
-- table of ours is locked or even read).
SELECT EXISTS (SELECT FROM pg_catalog.pg_namespace WHERE nspname = %(schema)s),
       EXISTS (SELECT FROM pg_catalog.pg_class c
               JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = %(schema)s AND c.relname = 'pgqrs_schema_version'
                 AND c.relkind IN ('r', 'p'));

-- name: admin_record_version :none
INSERT INTO {schema}.pgqrs_schema_version (version) VALUES (%(version)s);

-- name: admin_install_lock :one
-- Transaction-scoped (safe behind PgBouncer): concurrent installs into one schema take turns.
SELECT pg_advisory_xact_lock(hashtextextended('pgqrs install ' || %(schema)s, 0));

-- name: admin_relations :many
-- Every table, index, constraint and function pgqrs-named in the schema, for verify. The
-- partitions of a partitioned archive, and the indexes and constraints they inherit, are the
-- archive's, not objects of their own; a partitioned table says so.
SELECT 'table', c.relname, CASE WHEN c.relkind = 'p' THEN 'partitioned' END
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p') AND c.relname LIKE 'pgqrs\_%%'
  AND NOT c.relispartition
UNION ALL
SELECT 'index', c.relname, pg_catalog.pg_get_indexdef(c.oid)
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('i', 'I') AND c.relname LIKE 'pgqrs\_%%'
  AND NOT c.relispartition
UNION ALL
SELECT 'constraint', con.conname, pg_catalog.pg_get_constraintdef(con.oid)
FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_namespace n ON n.oid = con.connamespace
WHERE n.nspname = %(schema)s AND con.conname LIKE 'pgqrs\_%%' AND con.conparentid = 0
UNION ALL
SELECT 'default partition', parent.relname, c.relname
FROM pg_catalog.pg_inherits i
JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
JOIN pg_catalog.pg_class parent ON parent.oid = i.inhparent
JOIN pg_catalog.pg_namespace n ON n.oid = parent.relnamespace
WHERE n.nspname = %(schema)s AND parent.relname LIKE 'pgqrs\_%%'
  AND pg_catalog.pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT'
UNION ALL
SELECT 'function', p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid)
FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = %(schema)s AND p.proname LIKE 'pgqrs\_%%';

-- name: admin_columns :many
SELECT c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p') AND c.relname LIKE 'pgqrs\_%%'
  AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum;

-- name: admin_schema_version :one
SELECT max(version) FROM {schema}.pgqrs_schema_version;

-- name: admin_uninstall :none
-- Dependants first. No CASCADE: an object of the user's built on ours stops the uninstall
-- instead of being dropped silently.
DROP FUNCTION IF EXISTS {schema}.pgqrs_dequeue(bigint, bigint, integer, double precision, text);
DROP FUNCTION IF EXISTS {schema}.pgqrs_archive_partition_by_day(integer);
DROP FUNCTION IF EXISTS {schema}.pgqrs_archive_drop_partition(timestamptz, boolean);
DROP FUNCTION IF EXISTS {schema}.pgqrs_archive_partition(integer);
DROP TABLE IF EXISTS {schema}.pgqrs_schedules, {schema}.pgqrs_archive_counts, {schema}.pgqrs_archive, {schema}.pgqrs_messages,
    {schema}.pgqrs_workers, {schema}.pgqrs_queues, {schema}.pgqrs_schema_version;
